#!/usr/bin/env bash
# kofarm resolve / apply / create / delete against a real registry: the corpus
# in tests/fixtures/resolve/ resolves to its expected files (the references
# taken from independent `kofarm build` runs), every image: in the output
# exists (skopeo), output is reproducible, stdin, -R, selectors, the two
# real-world files (strict and --strict=false), --pin-tags, errors, and
# kubectl driven through a recording stand-in on PATH.
. "$(dirname "$0")/lib.sh"
need_kofarm

SHA='sha256:[0-9a-f]{64}'
RES=$KF_ROOT/tests/fixtures/resolve

start_registry
R=$REGISTRY
make_base "$R/base/seed:latest" linux/amd64 --user 65532 || { fail "make_base"; finish; }
export KO_DEFAULTBASEIMAGE=$R/base/seed:latest KO_DOCKER_REPO=$R/r

# ---- the references, from kofarm build (resolve must give the same)
MAP=$T/refs.map
: >"$MAP"
# add_refs DIR IMPORTPATH... : builds them in DIR and records "path ref" lines.
add_refs() {
  local dir=$1 p i
  shift
  kf_in "$dir" build "$@"
  [ "$KF_RC" -eq 0 ] || { fail "kofarm build $*" "$(kf_err_tail)"; finish; }
  i=1
  for p in "$@"; do
    echo "$p $(sed -n "${i}p" <<<"$KF_OUT")" >>"$MAP"
    i=$((i + 1))
  done
}
add_refs "$FIXTURE" example.com/hello/cmd/app example.com/hello/cmd/server
add_refs "$RES/knative-serving" knative.dev/serving/cmd/controller
add_refs "$RES/build-pipeline" github.com/knative/build-pipeline/cmd/controller \
  github.com/knative/build-pipeline/cmd/kubeconfigwriter
APP_REF=$(awk '$1 == "example.com/hello/cmd/app" {print $2}' "$MAP")
assert_match "build gives REPO/app-md5@digest" "^$R/r/app-$(md5_of example.com/hello/cmd/app)@$SHA\$" "$APP_REF"

# expand IN OUT : the expected file with <<KO:path>> replaced from the map.
expand() {
  perl -e 'open(M, "<", $ARGV[0]) or die; while (<M>) { chomp; my ($k, $v) = split / /; $m{$k} = $v }
           local $/; open(F, "<", $ARGV[1]) or die; binmode F; my $s = <F>;
           $s =~ s/<<KO:([^>]+)>>/exists $m{$1} ? $m{$1} : die "no reference for $1\n"/ge; binmode STDOUT; print $s' \
    "$MAP" "$1" >"$2"
}

# same_bytes NAME EXPECTED_FILE ACTUAL_FILE
same_bytes() {
  if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "$(diff "$2" "$3" | head -20)"; fi
}

# ---- every corpus file alone, byte for byte
for f in "$RES"/cases/*; do
  name=$(basename "$f")
  kf_in "$FIXTURE" resolve -f "$f"
  assert_kf_ok "resolve $name"
  expand "$RES/expected/$name" "$T/want.$name"
  same_bytes "$name: the expected bytes" "$T/want.$name" "$T/kf.out"
done

# ---- the whole directory: lexical order, each reference built once, parsed back, every image exists
kf_in "$FIXTURE" resolve -f "$RES/cases"
assert_kf_ok "resolve the corpus directory"
cp "$T/kf.out" "$T/all.yaml"
# every expected file, in order, joined by nothing but the "---" lines files need between them
joined=$(perl -e 'local $/; open(A, "<", shift) or die; binmode A; my $all = <A>; my $pos = 0; my $bad = "";
  for my $f (@ARGV) { open(F, "<", $f) or die; binmode F; my $want = <F>; my $at = index($all, $want, $pos);
    if ($at < 0) { $bad .= "missing: $f "; next }
    my $gap = substr($all, $pos, $at - $pos); $bad .= "gap before $f: [$gap] " unless $gap =~ /\A(---\r?\n)?\z/;
    $pos = $at + length($want) }
  $bad .= "trailing bytes" if $pos != length($all); print $bad eq "" ? "ok" : $bad' \
  "$T/all.yaml" $(for f in "$RES"/cases/*; do echo "$T/want.$(basename "$f")"; done))
assert_eq "directory: the files in lexical order, byte for byte" "ok" "$joined"
assert_eq "each import path built once" "2" "$(grep -c '^Published ' "$T/kf.err" || true)"
if python3 -c 'import yaml' 2>/dev/null; then
  images=$(python3 - "$T/all.yaml" <<'EOF'
import sys, yaml
# tags of our own (!custom) load as their plain value
yaml.SafeLoader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_scalar(node)
                                      if isinstance(node, yaml.ScalarNode) else None)
def walk(n, out):
    if isinstance(n, dict):
        for k, v in n.items():
            if k == "image" and isinstance(v, str):
                out.add(v)
            walk(v, out)
    elif isinstance(n, list):
        for v in n:
            walk(v, out)
out = set()
docs = list(yaml.safe_load_all(open(sys.argv[1], encoding="utf-8")))
for d in docs:
    walk(d, out)
print(len(docs))
for i in sorted(out):
    print(i)
EOF
  )
  assert_eq "the output parses back: 16 documents" "16" "$(head -n1 <<<"$images")"
  images=$(tail -n +2 <<<"$images")
else
  log "python3 yaml missing: image values taken with grep"
  images=$(grep -Eo "$R/r/[a-z]+-[0-9a-f]{32}@$SHA" "$T/all.yaml" | sort -u)
fi
n_checked=0
while read -r img; do
  case "$img" in
    "$R"/*)
      if verify_image "$img" >/dev/null 2>&1; then n_checked=$((n_checked + 1)); else fail "skopeo inspect $img"; fi ;;
  esac
done <<<"$images"
assert_eq "every image: of ours exists in the registry (skopeo)" "2" "$n_checked"
assert_not_contains "no ko:// left in image: values" "image: ko://" "$(cat "$T/all.yaml")"

# ---- reproducible: the same source twice gives the same bytes
kf_in "$FIXTURE" resolve -f "$RES/cases"
same_bytes "resolved twice: byte-identical" "$T/all.yaml" "$T/kf.out"

# ---- stdin (kustomize-style: kubectl kustomize dir | kofarm resolve -f -)
(cd "$FIXTURE" && cat "$RES/cases/multi.yaml" | "$KOFARM" resolve -f - >"$T/stdin.out" 2>"$T/stdin.err")
assert_eq "stdin: exit 0" "0" "$?"
same_bytes "stdin: the expected bytes" "$T/want.multi.yaml" "$T/stdin.out"
kf_in "$FIXTURE" resolve -f - -f - </dev/null
assert_kf_fails "stdin twice" 1 'stdin.*twice'

# ---- directories: only *.yaml *.yml *.json, lexical order, -R for subdirectories
mkdir -p "$T/tree/sub/deeper" "$T/tree/b"
printf 'a: ko://example.com/hello/cmd/app\n' >"$T/tree/a.yaml"
printf 'b: 1\n' >"$T/tree/b/in-dir-b.yml"
printf '{"c": "ko://example.com/hello/cmd/server"}\n' >"$T/tree/sub/deeper/c.json"
printf 'not: yaml: at all: [\n' >"$T/tree/notes.txt"
printf 'z: 1\n' >"$T/tree/z.yml"
kf_in "$FIXTURE" resolve -f "$T/tree"
assert_kf_ok "resolve a directory"
assert_eq "directory without -R: its own files" "a: $APP_REF"$'\n---\nz: 1' "$KF_OUT"
kf_in "$FIXTURE" resolve -R -f "$T/tree"
assert_kf_ok "resolve -R"
SERVER_REF=$(awk '$1 == "example.com/hello/cmd/server" {print $2}' "$MAP")
assert_eq "-R: depth first, lexical" \
  "a: $APP_REF"$'\n---\nb: 1\n---\n{"c": "'"$SERVER_REF"$'"}\n---\nz: 1' "$KF_OUT"
kf_in "$FIXTURE" resolve -f "$T/tree/notes.txt"
assert_kf_fails "a file named explicitly is read whatever its name" 1 'notes.txt:1:[0-9]+: invalid YAML'
kf_in "$FIXTURE" resolve -f "$T/nope"
assert_kf_fails "missing path" 1 'nope: No such file'

# ---- selectors
kf_in "$FIXTURE" resolve -f "$RES/select/selector.yaml"
assert_kf_fails "unselected: the missing package fails" 1 'selector.yaml:[0-9]+:[0-9]+: ko://example.com/hello/cmd/missing'
kf_in "$FIXTURE" resolve -l tier -f "$RES/select/selector.yaml"
assert_kf_ok "-l tier"
assert_eq "-l tier: two documents" "web worker" "$(grep -E '^  name: ' <<<"$KF_OUT" | awk '{printf "%s%s", sep, $2; sep=" "}')"
kf_in "$FIXTURE" resolve --selector 'app in (web), tier!=backend' -f "$RES/select/selector.yaml"
assert_eq "set-based selector: one document" "$(sed -n '1,9p' "$RES/select/selector.yaml" | \
  sed "s#ko://example.com/hello/cmd/server#$SERVER_REF#")" "$KF_OUT"
kf_in "$FIXTURE" resolve -l 'app in web' -f "$RES/select/selector.yaml"
assert_kf_fails "bad selector" 1 "label selector \"app in web\".*expected '\\('"

# ---- the real-world files
kf_in "$RES/knative-serving" resolve -f config/
assert_kf_ok "knative serving controller.yaml"
expand "$RES/knative-serving/expected.yaml" "$T/want.knative"
same_bytes "knative: comments, blank lines, both documents kept" "$T/want.knative" "$T/kf.out"
kf_in "$RES/build-pipeline" resolve -f config/controller.yaml
assert_kf_ok "tekton 2018 file, strict"
same_bytes "strict: bare import paths untouched (input bytes)" "$RES/build-pipeline/config/controller.yaml" "$T/kf.out"
kf_in "$RES/build-pipeline" resolve --strict=false -f config/controller.yaml
assert_kf_ok "tekton 2018 file, --strict=false"
expand "$RES/build-pipeline/expected.yaml" "$T/want.tekton"
same_bytes "--strict=false: both bare paths, quoting and the flow sequence kept" "$T/want.tekton" "$T/kf.out"

# ---- --pin-tags
skopeo copy -q --dest-tls-verify=false --src-tls-verify=false "docker://$R/base/seed:latest" \
  "docker://$R/some/image:v1" >/dev/null 2>&1 || fail "skopeo copy to some/image:v1"
PIN_DIGEST=$(raw_digest "$R/some/image:v1")
printf 'spec:\n  containers:\n  - image: %s/some/image:v1   # pinned\n  - image: "%s/some/image@%s"\n  - image: ko://example.com/hello/cmd/app\n' \
  "$R" "$R" "$PIN_DIGEST" >"$T/pin.yaml"
kf_in "$FIXTURE" resolve --pin-tags -f "$T/pin.yaml"
assert_kf_ok "--pin-tags"
assert_eq "--pin-tags: tag@digest, pinned stays, ours built" \
  "spec:
  containers:
  - image: $R/some/image:v1@$PIN_DIGEST   # pinned
  - image: \"$R/some/image@$PIN_DIGEST\"
  - image: $APP_REF" "$KF_OUT"
kf_in "$FIXTURE" resolve -f "$T/pin.yaml"
assert_contains "without --pin-tags the tag stays" "image: $R/some/image:v1   # pinned" "$KF_OUT"
printf 'image: %s/some/image:nope\n' "$R" >"$T/pin-missing.yaml"
kf_in "$FIXTURE" resolve --pin-tags -f "$T/pin-missing.yaml"
assert_kf_fails "--pin-tags: a missing tag fails, naming the place" 1 'pin-missing.yaml:1:8: pinning .*some/image:nope'

# ---- errors: file:line:column, nothing on stdout
printf 'a: 1\nb: [1, 2\n' >"$T/bad.yaml"
kf_in "$FIXTURE" resolve -f "$RES/cases/deployment.yaml" -f "$T/bad.yaml"
assert_kf_fails "bad YAML: file, line, column" 1 "bad.yaml:3:1: invalid YAML"
printf 'a: ko://example.com/hello/cmd/missing\nb:\n  - ko://example.com/hello/pkg/lib\nc: ko://example.com/hello/cmd/app\n' \
  >"$T/missing.yaml"
kf_in "$FIXTURE" resolve -f "$T/missing.yaml"
assert_kf_fails "missing packages" 1 '2 of 3 references cannot be built'
assert_match "every failing reference is listed (1)" 'missing.yaml:1:4: ko://example.com/hello/cmd/missing' "$KF_ERR"
assert_match "every failing reference is listed (2)" 'missing.yaml:3:5: ko://example.com/hello/pkg/lib: .*not a main package' "$KF_ERR"
{
  echo 'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'
  for i in 1 2 3 4 5 6 7 8; do
    printf 'a%d: &a%d [' "$i" "$i"
    for j in 1 2 3 4 5 6 7 8 9 10; do printf '*a%d%s' $((i - 1)) "$([ $j -lt 10 ] && echo ', ')"; done
    echo ']'
  done
} >"$T/lol.yaml"
kf_in "$FIXTURE" resolve -f "$T/lol.yaml"
assert_kf_fails "billion laughs refused" 1 'lol.yaml:6:45: aliases expand to more than'
kf resolve
assert_eq "no -f: usage error" "2" "$KF_RC"
kf resolve -f x extra
assert_eq "positional argument: usage error" "2" "$KF_RC"
kf resolve -f x -- --kubectl-flag
assert_eq "resolve passes nothing to kubectl: usage error" "2" "$KF_RC"
kf resolve --help
assert_contains "resolve --help lists the build flags" "--preserve-import-paths" "$KF_OUT"
kf --help
assert_contains "kofarm --help names resolve" "kofarm resolve -f PATH" "$KF_OUT"
assert_contains "kofarm --help names apply" "kofarm apply|create" "$KF_OUT"

# ---- apply / create / delete through a recording kubectl stand-in
mkdir -p "$T/fakebin"
cat >"$T/fakebin/kubectl" <<'EOF'
#!/usr/bin/env bash
printf '%s\n' "$@" >"$KUBECTL_LOG.argv"
cat >"$KUBECTL_LOG.stdin"
echo "fake kubectl: $1 done"
echo "fake kubectl: a warning" >&2
exit "${KUBECTL_EXIT:-0}"
EOF
chmod +x "$T/fakebin/kubectl"
export KUBECTL_LOG=$T/kubectl
kf_in "$FIXTURE" resolve -f "$RES/cases/list.yaml"
cp "$T/kf.out" "$T/list.resolved"
PATH=$T/fakebin:$PATH kf_in "$FIXTURE" apply -f "$RES/cases/list.yaml" -- --namespace demo --dry-run=client
assert_kf_ok "apply"
assert_eq "apply: kubectl apply -f - plus the flags after --" \
  $'apply\n-f\n-\n--namespace\ndemo\n--dry-run=client' "$(cat "$KUBECTL_LOG.argv")"
same_bytes "apply: kubectl reads the resolved YAML" "$T/list.resolved" "$KUBECTL_LOG.stdin"
assert_eq "apply: kubectl's stdout passed on" "fake kubectl: apply done" "$KF_OUT"
assert_contains "apply: kubectl's stderr passed on" "fake kubectl: a warning" "$KF_ERR"
PATH=$T/fakebin:$PATH kf_in "$FIXTURE" create -l app=nobody -f "$RES/cases/list.yaml"
assert_kf_ok "create"
assert_eq "create: kubectl create -f -" $'create\n-f\n-' "$(cat "$KUBECTL_LOG.argv")"
assert_eq "create: the selector applies before kubectl" "0" "$(stat -c %s "$KUBECTL_LOG.stdin")"
PATH=$T/fakebin:$PATH KUBECTL_EXIT=3 kf_in "$FIXTURE" apply -f "$RES/cases/list.yaml"
assert_eq "kubectl failing: exit 1" "1" "$KF_RC"
assert_contains "kubectl failing: said" "kofarm: kubectl apply exited with status 3" "$KF_ERR"
rm -f "$KUBECTL_LOG.argv"
PATH=$T/fakebin:$PATH kf_in "$FIXTURE" apply -f "$T/bad.yaml"
assert_eq "apply of bad YAML: kubectl never runs" "no" "$([ -e "$KUBECTL_LOG.argv" ] && echo yes || echo no)"
PATH=$T/fakebin:$PATH kf_in "$FIXTURE" delete -f "$T/missing.yaml" -R -l app=x -- --wait=false
assert_kf_ok "delete (nothing is built, even a missing package)"
assert_eq "delete: passes the files through" \
  "delete
-f
$T/missing.yaml
-R
-l
app=x
--wait=false" "$(cat "$KUBECTL_LOG.argv")"
(cd "$FIXTURE" && printf 'kind: Pod\n' | PATH=$T/fakebin:$PATH "$KOFARM" delete -f - >/dev/null 2>&1)
assert_eq "delete -f -: our stdin reaches kubectl" "kind: Pod" "$(cat "$KUBECTL_LOG.stdin")"
mkdir -p "$T/emptybin"
(cd "$FIXTURE" && PATH=$T/emptybin "$KOFARM" delete -f "$T/missing.yaml" >"$T/kf.out" 2>"$T/kf.err")
KF_RC=$?
KF_OUT=$(cat "$T/kf.out")
KF_ERR=$(cat "$T/kf.err")
assert_kf_fails "no kubectl on PATH" 1 'kubectl'

finish
