// Command parity writes ko's two layer tars (the binary layer and the kodata
// layer) with Go's own archive/tar, using the headers ko's pkg/build writes on
// Linux, so that kofarm's C tar writer can be compared with them byte for byte.
//
//	parity -binary FILE -app-path /ko-app/NAME -kodata DIR -bin-out F -kodata-out F
//
// The kodata mtime comes from KO_DATA_DATE_EPOCH exactly as ko reads it, and
// the symlink boundary from KO_DATA_PATH_ALLOWED_ROOT or the enclosing git
// worktree, as ko does.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const kodataMount = "/var/run/ko"

func main() {
	binary := flag.String("binary", "", "the executable to put in the binary layer")
	appPath := flag.String("app-path", "", "its path in the image, /ko-app/<name>")
	kodata := flag.String("kodata", "", "the kodata directory (may be missing)")
	binOut := flag.String("bin-out", "", "where to write the binary layer tar")
	kodataOut := flag.String("kodata-out", "", "where to write the kodata layer tar")
	flag.Parse()
	if *binary == "" || *appPath == "" || *kodata == "" || *binOut == "" || *kodataOut == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*binary, *appPath, *kodata, *binOut, *kodataOut); err != nil {
		fmt.Fprintln(os.Stderr, "parity:", err)
		os.Exit(1)
	}
}

func run(binary, appPath, kodata, binOut, kodataOut string) error {
	created, err := epochFromEnv("KO_DATA_DATE_EPOCH")
	if err != nil {
		return err
	}
	bin, err := binaryTar(appPath, binary)
	if err != nil {
		return err
	}
	if err := os.WriteFile(binOut, bin, 0o644); err != nil {
		return err
	}
	root, err := filepath.Abs(kodata) // ko's kodata path is absolute and clean
	if err != nil {
		return err
	}
	kd, err := kodataTar(root, created)
	if err != nil {
		return err
	}
	return os.WriteFile(kodataOut, kd, 0o644)
}

// epochFromEnv: unset or empty gives the zero time, else seconds since 1970.
func epochFromEnv(name string) (time.Time, error) {
	v := os.Getenv(name)
	if v == "" {
		return time.Time{}, nil
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", name, err)
	}
	return time.Unix(secs, 0), nil
}

// binaryTar: the directory "ko-app", then the binary at appPath, both 0555
// with no mtime; the file header carries an empty PAXRecords map as ko's does.
func binaryTar(appPath, binary string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "ko-app", Typeflag: tar.TypeDir, Mode: 0o555}); err != nil {
		return nil, err
	}
	f, err := os.Open(binary)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	hdr := &tar.Header{Name: appPath, Size: st.Size(), Typeflag: tar.TypeReg, Mode: 0o555,
		PAXRecords: map[string]string{}}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func dirHeader(tw *tar.Writer, name string, mtime time.Time) error {
	return tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o555, ModTime: mtime})
}

// kodataTar: /var, /var/run, /var/run/ko, then the tree under root.
func kodataTar(root string, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"/var", "/var/run", kodataMount} {
		if err := dirHeader(tw, d, mtime); err != nil {
			return nil, err
		}
	}
	boundary := root
	if _, err := os.Stat(root); err == nil {
		real, err := filepath.EvalSymlinks(root)
		if err != nil {
			return nil, err
		}
		if real, err = filepath.Abs(real); err != nil {
			return nil, err
		}
		boundary = allowedRoot(real)
	}
	w := &walker{tw: tw, boundary: boundary, mtime: mtime}
	if err := w.walk(root, kodataMount); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// allowedRoot widens the symlink boundary from the kodata directory to
// KO_DATA_PATH_ALLOWED_ROOT or the enclosing git worktree, but only to an
// ancestor of the kodata directory.
func allowedRoot(kodataReal string) string {
	cand := os.Getenv("KO_DATA_PATH_ALLOWED_ROOT")
	if cand == "" {
		cand = gitWorktree(kodataReal)
	}
	if cand == "" {
		return kodataReal
	}
	abs, err := filepath.Abs(cand)
	if err != nil {
		return kodataReal
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if inside(kodataReal, abs) {
		return abs
	}
	return kodataReal
}

func gitWorktree(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			return ""
		}
		dir = up
	}
}

func inside(p, root string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

type walker struct {
	tw       *tar.Writer
	boundary string
	mtime    time.Time
}

// walk visits root with filepath.Walk (lexical order, symlinks not followed
// by Walk itself) and maps every path below it to mount.
func (w *walker) walk(root, mount string) error {
	return filepath.Walk(root, func(host string, info os.FileInfo, err error) error {
		if host == root {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Join(mount, filepath.ToSlash(host[len(root):]))
		if info.IsDir() {
			return dirHeader(w.tw, name, w.mtime)
		}
		real, err := filepath.EvalSymlinks(host)
		if err != nil {
			return err
		}
		if real, err = filepath.Abs(real); err != nil {
			return err
		}
		if !inside(real, w.boundary) {
			return errors.New("kodata symlink " + host + " resolves to " + real + " outside " + w.boundary)
		}
		st, err := os.Stat(real)
		if err != nil {
			return err
		}
		if st.IsDir() {
			if err := dirHeader(w.tw, name, w.mtime); err != nil {
				return err
			}
			return w.walk(real, name)
		}
		return w.file(name, real, st.Size())
	})
}

func (w *walker) file(name, real string, size int64) error {
	f, err := os.Open(real)
	if err != nil {
		return err
	}
	defer f.Close()
	hdr := &tar.Header{Name: name, Size: size, Typeflag: tar.TypeReg, Mode: 0o555, ModTime: w.mtime}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(w.tw, f)
	return err
}
