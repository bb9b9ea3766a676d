package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/switchboard-dev/switchboard/configs"
)

// configVersion names a config by its bytes: the first 12 hex digits of
// their SHA-256 (what `sha256sum FILE | cut -c1-12` prints).
func configVersion(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:12]
}

// read returns the config's bytes as written.
func (s Source) read() ([]byte, error) {
	if s.YAML != nil {
		return s.YAML, nil
	}
	data, err := os.ReadFile(s.File)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return data, nil
}

// parse checks data as the config of s (problems name the file).
func (s Source) parse(data []byte, getenv func(string) string) (*configs.Config, error) {
	cfg, err := configs.Parse(data, getenv)
	var cerr *configs.Error
	if errors.As(err, &cerr) {
		cerr.File = s.File
	}
	return cfg, err
}

// ReloadResult says what a reload did.
type ReloadResult string

const (
	ReloadOK        ReloadResult = "ok"        // a new config is live
	ReloadUnchanged ReloadResult = "unchanged" // the file did not change (client keys were re-read)
	ReloadInvalid   ReloadResult = "invalid"   // the file has problems; the old config serves
	ReloadFailed    ReloadResult = "failed"    // the file could not be read, or the new config not built (Vault login refused, say)
)

// Reload reads and checks the config file again. A valid file that changed
// is built and swapped in atomically: calls already running finish on the
// old config, new calls use the new one, upstream MCP servers whose
// integration did not change stay connected, and clients are told with
// tools/list_changed. An invalid file is logged with every problem and its
// line, and the old config keeps serving. Client keys are re-read either way.
func (a *App) Reload(ctx context.Context) (ReloadResult, error) {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	start := time.Now()
	res, err := a.reload(ctx)
	a.tm.Reload(string(res))
	if kerr := a.keys.Refresh(ctx); kerr != nil {
		a.log.Warn("client keys could not be re-read; keeping the last ones", "error", kerr)
	}
	switch res {
	case ReloadOK:
		a.log.Info("config reloaded", "version", a.Version(), "tools", len(a.Tools()), "took", time.Since(start).Round(time.Microsecond))
	case ReloadUnchanged:
		a.log.Info("config unchanged; client keys re-read", "version", a.Version())
	case ReloadInvalid:
		var cerr *configs.Error
		if errors.As(err, &cerr) {
			a.log.Error("config reload refused: the file has problems; the old config keeps serving",
				"file", cerr.File, "problems", len(cerr.Problems), "version", a.Version())
			for _, p := range cerr.Problems {
				a.log.Error("config problem", "file", cerr.File, "line", p.Line, "path", p.Path, "problem", p.Message)
			}
		}
	case ReloadFailed:
		a.log.Error("config reload failed; the old config keeps serving", "error", err, "version", a.Version())
	}
	return res, err
}

func (a *App) reload(ctx context.Context) (ReloadResult, error) {
	if a.src.Dev || (a.src.File == "" && a.src.YAML == nil) {
		return ReloadUnchanged, nil
	}
	data, err := a.src.read()
	if err != nil {
		return ReloadFailed, err
	}
	prev := a.current()
	version := configVersion(data)
	if version == prev.version {
		return ReloadUnchanged, nil
	}
	cfg, err := a.src.parse(data, a.opts.Getenv)
	if err != nil {
		a.refused = version
		var cerr *configs.Error
		if errors.As(err, &cerr) {
			return ReloadInvalid, err
		}
		return ReloadFailed, err
	}
	g, err := a.build(ctx, cfg, version, prev)
	if err != nil {
		a.refused = version
		return ReloadFailed, err
	}
	a.commit(g)
	return ReloadOK, nil
}

// reloadChanged reloads after a file event, unless the file's bytes are
// those live already or those refused last (an editor's temp files, a
// second event of one save: nothing to do, nothing to log again).
func (a *App) reloadChanged(ctx context.Context) {
	data, err := a.src.read()
	if err == nil {
		v := configVersion(data)
		a.reloadMu.Lock()
		same := v == a.current().version || v == a.refused
		a.reloadMu.Unlock()
		if same {
			return
		}
	}
	_, _ = a.Reload(ctx)
}

// Watch reloads when the config file changes, until ctx ends. It watches the
// file's directory, so that editors that write a new file and rename it over
// the old one, and Kubernetes ConfigMap volumes (which swap a ..data
// symlink), are seen; changes are debounced, and a file whose bytes did not
// change is not reloaded.
func (a *App) Watch(ctx context.Context) error {
	if a.src.File == "" {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config: %w", err)
	}
	file, err := filepath.Abs(a.src.File)
	if err != nil {
		w.Close()
		return err
	}
	dir, base := filepath.Split(file)
	if err := w.Add(dir); err != nil {
		w.Close()
		return fmt.Errorf("watch config: %w", err)
	}
	go func() {
		defer w.Close()
		const debounce = 150 * time.Millisecond
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				name := filepath.Base(ev.Name)
				if name == base || strings.HasPrefix(name, "..") {
					timer.Reset(debounce)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				a.log.Warn("watching the config file", "error", err)
			case <-timer.C:
				a.reloadChanged(ctx)
			}
		}
	}()
	return nil
}
