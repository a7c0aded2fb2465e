#!/usr/bin/env bash
# Registry authentication through the CLI, against docker-registry with
# htpasswd basic auth: credentials from config.json ($DOCKER_CONFIG and
# ~/.docker), `kofarm login` (-p and --password-stdin), a base image pulled
# with credentials, and clear failures for missing or wrong credentials.
. "$(dirname "$0")/lib.sh"
need_kofarm

SHA='sha256:[0-9a-f]{64}'
GREETING=$'hello from kofarm\nhi from kodata'
USER_NAME=alice
PASSWORD='s3cret pass:word'

start_registry --auth "$USER_NAME:$PASSWORD"
R=$REGISTRY
export KO_DOCKER_REPO=$R/auth KO_DEFAULTBASEIMAGE=scratch
export SKOPEO_CREDS="$USER_NAME:$PASSWORD"
AUTH_B64=$(printf '%s' "$USER_NAME:$PASSWORD" | base64 -w0)

write_config() { # DIR AUTH-B64
  mkdir -p "$1"
  printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$R" "$2" >"$1/config.json"
}

# ---- no credentials: a clear failure
export DOCKER_CONFIG=$T/empty
mkdir -p "$DOCKER_CONFIG"
kf_in "$FIXTURE" build -B ./cmd/app
assert_kf_fails "push without credentials fails" 1 "$R"
assert_match "... saying it is an authentication problem" '(401|[Uu]nauthori[sz]ed|[Aa]uthenticat|credentials)' "$KF_ERR"

# ---- credentials in $DOCKER_CONFIG/config.json
export DOCKER_CONFIG=$T/docker-good
write_config "$DOCKER_CONFIG" "$AUTH_B64"
kf_in "$FIXTURE" build -B ./cmd/app
assert_kf_ok "push with config.json credentials"
assert_match "reference" "^$R/auth/app@$SHA\$" "$KF_OUT"
assert_eq "pushed (skopeo with the same credentials)" "${KF_OUT#*@}" "$(raw_digest "$R/auth/app:latest")"
run_image "$KF_OUT" linux/amd64
assert_eq "the image pulled with credentials runs" "0:$GREETING" "$RUN_RC:$RUN_OUT"

# ---- wrong password in config.json: exit 1, a clear message, nothing printed
export DOCKER_CONFIG=$T/docker-bad
write_config "$DOCKER_CONFIG" "$(printf '%s' "$USER_NAME:Xyzzy-bad-42" | base64 -w0)"
kf_in "$FIXTURE" build -B --repo "$R/wrong" ./cmd/app
assert_kf_fails "wrong password fails" 1 "$R"
assert_match "... naming the authentication failure" '(401|[Uu]nauthori[sz]ed|[Aa]uthenticat|credentials)' "$KF_ERR"
assert_not_contains "... without echoing the password" "Xyzzy-bad-42" "$KF_ERR"
assert_eq "nothing pushed" "no" \
  "$(skopeo inspect --raw --tls-verify=false --creds "$SKOPEO_CREDS" "docker://$R/wrong/app:latest" >/dev/null 2>&1 && echo yes || echo no)"

# ---- ~/.docker/config.json when DOCKER_CONFIG is unset
unset DOCKER_CONFIG
write_config "$HOME/.docker" "$AUTH_B64"
kf_in "$FIXTURE" build -B --repo "$R/home" ./cmd/app
assert_kf_ok "push with ~/.docker/config.json"
rm -rf "$HOME/.docker"

# ---- kofarm login -p, then push
export DOCKER_CONFIG=$T/docker-login
mkdir -p "$DOCKER_CONFIG"
kf login "$R" -u "$USER_NAME" -p "$PASSWORD"
assert_kf_ok "kofarm login -p"
assert_contains "login says so" "Login to $R succeeded" "$KF_ERR"
assert_eq "login stored auths[REGISTRY].auth" "$AUTH_B64" \
  "$(jq -r --arg r "$R" '.auths[$r].auth' "$DOCKER_CONFIG/config.json")"
assert_eq "config.json is private (0600)" "600" "$(stat -c %a "$DOCKER_CONFIG/config.json")"
kf_in "$FIXTURE" build -B --repo "$R/login" ./cmd/app
assert_kf_ok "push after kofarm login"
assert_eq "pushed after login" "${KF_OUT#*@}" "$(raw_digest "$R/login/app:latest")"

# ---- login keeps other entries of an existing config.json
export DOCKER_CONFIG=$T/docker-merge
mkdir -p "$DOCKER_CONFIG"
printf '{"auths":{"other.example:5000":{"auth":"eDp5"}},"credHelpers":{"gcr.io":"gcloud"}}\n' >"$DOCKER_CONFIG/config.json"
printf '%s\n' "$PASSWORD" >"$T/pw"
kf login "$R" -u "$USER_NAME" --password-stdin <"$T/pw"
assert_kf_ok "kofarm login --password-stdin"
assert_eq "login merged into the existing file" "eDp5 $AUTH_B64 gcloud" \
  "$(jq -r --arg r "$R" '[.auths["other.example:5000"].auth, .auths[$r].auth, .credHelpers["gcr.io"]] | join(" ")' "$DOCKER_CONFIG/config.json")"

# ---- login with a wrong password: exit 1, nothing stored
export DOCKER_CONFIG=$T/docker-login-bad
mkdir -p "$DOCKER_CONFIG"
kf login "$R" -u "$USER_NAME" -p Xyzzy-bad-42
assert_kf_fails "login with a wrong password fails" 1 "$R"
assert_not_contains "... without echoing the password" "Xyzzy-bad-42" "$KF_ERR"
assert_eq "... and stores nothing" "absent" "$([ -e "$DOCKER_CONFIG/config.json" ] && echo present || echo absent)"
kf login "$R" -u "$USER_NAME"
assert_eq "login without a password: usage error" "2" "$KF_RC"

# ---- a base image that needs credentials (pull and cross-repository mount)
export DOCKER_CONFIG=$T/docker-good
make_base "$R/base/private:latest" linux/amd64,linux/arm64
assert_match "base create with credentials" "^$R/base/private:latest@$SHA\$" "$BASE_OUT"
KO_DEFAULTBASEIMAGE=$R/base/private:latest kf_in "$FIXTURE" build -B --repo "$R/onbase" --platform=all ./cmd/app
assert_kf_ok "build on a private base"
run_image "$KF_OUT" linux/arm64
assert_eq "built on the private base, arm64 entry runs" "0:$GREETING" "$RUN_RC:$RUN_OUT"
assert_eq "base layer present" "3" "$(jq '.layers | length' "$RUN_DIR/manifest.json")"
export DOCKER_CONFIG=$T/empty
KO_DEFAULTBASEIMAGE=$R/base/private:latest kf_in "$FIXTURE" build -B --push=false --oci-layout-path "$T/l" ./cmd/app
assert_kf_fails "pulling a private base without credentials fails" 1 "$R"

finish
