package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/switchboard-dev/switchboard/internal/openapi"
)

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// cmdImport: switchboard import openapi SPEC [flags]. The config goes to
// stdout or --out, the summary to stderr.
func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "openapi" {
		return usagef("import: want switchboard import openapi SPEC [--name NAME] [--base-url URL] [--include GLOB]… [--exclude GLOB]… [--tag TAG]… [--out FILE]")
	}
	fs := flag.NewFlagSet("import openapi", flag.ContinueOnError)
	var opt openapi.Options
	var include, exclude, tags listFlag
	var out string
	fs.StringVar(&opt.Name, "name", "", "integration name (default from the document's title)")
	fs.StringVar(&opt.BaseURL, "base-url", "", "base URL (default the document's first server)")
	fs.Var(&include, "include", "import only tools whose name matches this glob (repeatable)")
	fs.Var(&exclude, "exclude", "leave out tools whose name matches this glob (repeatable)")
	fs.Var(&tags, "tag", "import only operations with this tag (repeatable)")
	fs.StringVar(&out, "out", "", "write the config to this file instead of stdout")
	fs.DurationVar(&opt.Timeout, "timeout", openapi.DefaultTimeout, "time allowed to fetch a document given as a URL")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("import openapi: want exactly one SPEC (a file or an http(s) URL), got %d", len(pos))
	}
	opt.Include, opt.Exclude, opt.Tags = include, exclude, tags
	if err := opt.Check(); err != nil {
		return usagef("import openapi: %v", err)
	}
	res, err := openapi.Import(ctx, pos[0], opt)
	if err != nil {
		if res != nil {
			res.Summary(stderr)
		}
		return err
	}
	// The config is written before the summary, so a closed stderr cannot
	// cost the file.
	if out == "" {
		if _, err := stdout.Write(res.YAML); err != nil {
			return err
		}
		res.Summary(stderr)
		return nil
	}
	if err := writeAtomic(out, res.YAML); err != nil {
		return err
	}
	res.Summary(stderr)
	fmt.Fprintf(stderr, "wrote %s; check it with: switchboard validate --config %s\n", out, out)
	return nil
}

// writeAtomic writes a temp file beside path and renames it, so path holds
// either its old content or the whole new file, never a part.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, errors.Unwrap(err))
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}
