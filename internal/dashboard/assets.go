package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
)

// assetFiles contains the page's CSS, script and icon, and the vendored
// Chart.js with its license (see assets/vendor/README.md for the version
// and checksum).
//
//go:embed assets
var assetFiles embed.FS

// assetServer serves the embedded assets under /assets/ without
// authentication, because they hold no data. Each file gets an ETag of its
// content, so browsers revalidate instead of downloading it again.
type assetServer struct {
	etags map[string]string // path below assets/ to its quoted ETag
	files http.Handler
}

func newAssetServer() (*assetServer, error) {
	root, err := fs.Sub(assetFiles, "assets")
	if err != nil {
		return nil, fmt.Errorf("open embedded assets: %w", err)
	}

	etags := make(map[string]string)
	err = fs.WalkDir(root, ".", func(path string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() {
			return err
		}
		content, err := fs.ReadFile(root, path)
		if err != nil {
			return err
		}
		digest := sha256.Sum256(content)
		etags[path] = `"` + base64.RawURLEncoding.EncodeToString(digest[:18]) + `"`
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hash embedded assets: %w", err)
	}

	return &assetServer{etags: etags, files: http.StripPrefix("/assets", http.FileServerFS(root))}, nil
}

// ServeHTTP serves one file. Directories get 404 instead of a listing.
func (s *assetServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/assets/")
	etag, ok := s.etags[path]
	if !ok {
		http.NotFound(w, r)
		return
	}

	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	s.files.ServeHTTP(w, r)
}
