package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"ekbom"
	"ekbom/engine"
	"ekbom/internal/postgres"
	"ekbom/internal/sqlite"
	"ekbom/internal/web"
	"ekbom/kb"

	"go.yaml.in/yaml/v3"
)

// Defaults of `ekbom serve`. The server listens on localhost only unless
// told otherwise.
const (
	defaultAddr = "127.0.0.1:8080"
	defaultDB   = "ekbom.db"
)

// HTTP server limits.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 15 * time.Second
	sweepInterval     = 10 * time.Minute
)

// serveConfig is what `ekbom serve` needs; flags and environment fill it.
type serveConfig struct {
	Addr          string // host:port to listen on
	DB            string // SQLite file, or a postgres:// or postgresql:// DSN
	SecureCookies bool
	// PublicURL is the base URL EHRs call (CDS Hooks token aud, plan links).
	PublicURL string
	// CDSIssuers is the file of trusted CDS Hooks issuers (JSON or YAML).
	CDSIssuers string
	// CDSInsecure turns CDS Hooks JWT verification off (development only,
	// loopback addresses only).
	CDSInsecure bool
	// CDSReplay is where accepted token ids are kept: memory, store or auto.
	CDSReplay string
}

// issuersFile is the trusted-issuers file of -cds-issuers, in YAML or JSON:
//
//	issuers:
//	  - issuer: https://ehr.example.org
//	    jwks_urls: [https://ehr.example.org/.well-known/jwks.json]
//	    fhir_servers: [https://ehr.example.org/fhir/r4]   # optional
type issuersFile struct {
	Issuers []web.CDSIssuer `yaml:"issuers"`
}

// loadIssuers reads a trusted-issuers file strictly: unknown fields are
// errors, and so is a file without issuers.
func loadIssuers(path string) ([]web.CDSIssuer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-cds-issuers: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f issuersFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("-cds-issuers %s: %w", path, err)
	}
	if len(f.Issuers) == 0 {
		return nil, fmt.Errorf("-cds-issuers %s: no issuers listed", path)
	}
	return f.Issuers, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

const serveUsage = "usage: ekbom serve [-addr 127.0.0.1:8080] [-db FILE|postgres://…] [-secure-cookies] [-public-url URL] [-cds-issuers FILE] [-cds-replay auto|memory|store] [-cds-insecure-no-auth]\n" +
	"  the clinician web app, JSON API and CDS Hooks services; migrations run at start"

func cmdServe(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg serveConfig
	fs.StringVar(&cfg.Addr, "addr", envOr("EKBOM_ADDR", defaultAddr), "address to listen on (env EKBOM_ADDR)")
	fs.StringVar(&cfg.DB, "db", envOr("EKBOM_DB", defaultDB), "SQLite database file, or a postgres:// DSN (env EKBOM_DB)")
	fs.BoolVar(&cfg.SecureCookies, "secure-cookies", false, "mark cookies Secure (when served over HTTPS, e.g. behind a TLS proxy)")
	fs.StringVar(&cfg.PublicURL, "public-url", os.Getenv("EKBOM_PUBLIC_URL"), "base URL EHRs use to reach this server, e.g. https://ekbom.example.org; CDS Hooks tokens must name it in aud (env EKBOM_PUBLIC_URL)")
	fs.StringVar(&cfg.CDSIssuers, "cds-issuers", os.Getenv("EKBOM_CDS_ISSUERS"), "YAML or JSON file of trusted CDS Hooks issuers and their JWK Set URLs (env EKBOM_CDS_ISSUERS)")
	fs.BoolVar(&cfg.CDSInsecure, "cds-insecure-no-auth", false, "DEVELOPMENT ONLY: accept CDS Hooks calls without verifying their JWT (loopback addresses only)")
	fs.StringVar(&cfg.CDSReplay, "cds-replay", envOr("EKBOM_CDS_REPLAY", "auto"), "where the ids of accepted CDS Hooks tokens are kept against replay: memory (this process), store (the database, shared by replicas), or auto: store with PostgreSQL, memory with SQLite (env EKBOM_CDS_REPLAY)")
	setUsage(fs, stderr, serveUsage)
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() != 0 {
		fmt.Fprintln(stderr, serveUsage)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, log, nil); err != nil {
		log.Error("serve failed", "err", err)
		return 1
	}
	return 0
}

// openStore opens the store named by db: PostgreSQL for a postgres:// or
// postgresql:// DSN, an SQLite file otherwise. Opening applies migrations.
func openStore(ctx context.Context, db string) (ekbom.Store, string, error) {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		st, err := postgres.Open(ctx, db)
		if err != nil {
			return nil, "", errors.New(redact(err.Error(), db))
		}
		return st, "postgres", nil
	}
	st, err := sqlite.Open(db)
	if err != nil {
		return nil, "", err
	}
	return st, "sqlite", nil
}

// redact removes a DSN (which may hold a password) from an error message.
func redact(msg, dsn string) string {
	return strings.ReplaceAll(msg, dsn, "postgres://…")
}

// serve runs the web server until ctx is done, then shuts it down
// gracefully and closes the store. ready, when set, is called with the base
// URL once the server accepts connections.
func serve(ctx context.Context, cfg serveConfig, log *slog.Logger, ready func(url string)) error {
	switch cfg.CDSReplay {
	case "", "auto", "memory", "store":
	default: // before the database is opened (and perhaps created)
		return fmt.Errorf("-cds-replay: %q: want memory, store or auto", cfg.CDSReplay)
	}
	store, kind, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	b, err := kb.Default()
	if err != nil {
		return err
	}
	eng, err := engine.New(b, engine.Options{})
	if err != nil {
		return err
	}
	cds := web.CDSOptions{PublicURL: cfg.PublicURL, Insecure: cfg.CDSInsecure}
	switch cfg.CDSReplay {
	case "store":
		cds.ReplayInStore = true
	case "memory":
	case "auto", "":
		cds.ReplayInStore = kind == "postgres"
	}
	if cfg.CDSIssuers != "" {
		if cds.Issuers, err = loadIssuers(cfg.CDSIssuers); err != nil {
			return err
		}
	}
	if cfg.CDSInsecure {
		host, _, err := net.SplitHostPort(cfg.Addr)
		if err != nil || !isLoopback(host) {
			return fmt.Errorf("-cds-insecure-no-auth is for local development only: listen on a loopback address (e.g. -addr 127.0.0.1:8080), not %q", cfg.Addr)
		}
		log.Warn("**********************************************************************")
		log.Warn("CDS Hooks JWT verification is OFF (-cds-insecure-no-auth). Any caller can use /cds-services. Local development only; NEVER in production.")
		log.Warn("**********************************************************************")
	}
	app, err := web.New(web.Options{Store: store, Engine: eng, Logger: log, SecureCookies: cfg.SecureCookies, CDS: cds})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	url := "http://" + ln.Addr().String()
	log.Info("ekbom serving; open the URL in a browser", "url", url, "db", kind,
		"engine", ekbom.EngineVersion, "knowledge_base", b.Meta.Version,
		"cds_discovery", cdsDiscoveryURL(cfg.PublicURL, url), "cds_trusted_issuers", len(cds.Issuers))
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !isLoopback(host) && !cfg.SecureCookies {
		log.Warn("listening beyond localhost without -secure-cookies: serve it behind HTTPS and set -secure-cookies")
	}
	if n, err := store.CountUsers(ctx); err == nil && n == 0 {
		log.Warn("no users yet: create one with `ekbom admin create -username NAME`")
	}

	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		t := time.NewTicker(sweepInterval)
		defer t.Stop()
		for {
			select {
			case <-sweepCtx.Done():
				return
			case <-t.C:
				if n, err := app.Sweep(sweepCtx); err != nil {
					log.Error("deleting expired sessions", "err", err)
				} else if n > 0 {
					log.Info("deleted expired sessions", "count", n)
				}
			}
		}
	}()
	defer func() { stopSweep(); <-swept }()

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if ready != nil {
		ready(url)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// cdsDiscoveryURL is the CDS Hooks discovery URL to give an EHR.
func cdsDiscoveryURL(public, local string) string {
	if public != "" {
		return strings.TrimRight(public, "/") + "/cds-services"
	}
	return local + "/cds-services"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
