package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/finesse-notify/finesse-notify/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	os.Exit(run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr, hup))
}

// run is the whole program: it returns the exit status. ctx ending (a
// signal) shuts the service down; each value on reload (SIGHUP) reloads
// the --directory file.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer, reload <-chan os.Signal) int {
	o, err := parseOptions(args, lookupEnv)
	if errors.Is(err, errHelp) {
		printHelp(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "finesse-notify: %v\nRun finesse-notify --help for the settings.\n", err)
		return 2
	}
	logger, err := newLogger(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "finesse-notify: logger: %v\n", err)
		return 1
	}
	defer logger.Sync()

	cfg := o.app
	cfg.Logger = logger
	a, err := app.Start(cfg)
	if err != nil {
		logger.Error("start failed", zap.Error(err))
		fmt.Fprintf(stderr, "finesse-notify: %v\n", err)
		return 1
	}
	printBanner(stdout, a, cfg)

	status := 0
serving:
	for {
		select {
		case <-reload:
			// ReloadDirectory logs the outcome; a bad file keeps the old
			// directory and the service running.
			a.ReloadDirectory()
		case <-ctx.Done():
			logger.Info("signal received: shutting down")
			break serving
		case err := <-a.Failed():
			fmt.Fprintf(stderr, "finesse-notify: %v\n", err)
			status = 1
			break serving
		}
	}
	// The signal context is done; Shutdown bounds itself by the configured
	// shutdown timeout.
	if err := a.Shutdown(context.Background()); err != nil {
		logger.Warn("unclean shutdown", zap.Error(err))
		if status == 0 {
			status = 1
		}
	}
	return status
}

// newLogger builds the zap production logger at the configured level and
// format, writing to w.
func newLogger(o *options, w io.Writer) (*zap.Logger, error) {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	var encoder zapcore.Encoder
	switch o.logFormat {
	case "console":
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	case "json", "":
		encoder = zapcore.NewJSONEncoder(enc)
	default:
		return nil, fmt.Errorf("unknown log format %q", o.logFormat)
	}
	core := zapcore.NewCore(encoder, zapcore.Lock(zapcore.AddSync(w)), o.zapLevel())
	return zap.New(core, zap.ErrorOutput(zapcore.Lock(zapcore.AddSync(w)))).Named("finesse-notify"), nil
}

// printBanner tells a person what is being served, plainly, on stdout.
func printBanner(w io.Writer, a *app.App, cfg app.Config) {
	fmt.Fprintf(w, "finesse-notify is serving the XMPP domain %s\n\n", cfg.Domain)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, e := range a.Endpoints() {
		fmt.Fprintf(tw, "  %s\t%s\n", e.URL, e.What)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if cfg.TLSCert == "" {
		pemURL := ""
		for _, u := range a.URLs() {
			if strings.HasSuffix(u, "/tls/certificate.pem") {
				pemURL = u
			}
		}
		if pemURL != "" {
			fmt.Fprintf(w, "The TLS certificate is self-signed: fetch it from %s to trust it.\n", pemURL)
		} else {
			fmt.Fprintln(w, "The TLS certificate is self-signed (turn on --notify-plain-addr to download it).")
		}
	}
	if cfg.DirectoryFile == "" {
		fmt.Fprintln(w, "Accounts: agents 1001-1010 and 1080, supervisor 2001, administrator admin; password \"password\".")
	}
	fmt.Fprintln(w, "Ready. SIGHUP reloads --directory; SIGTERM or Ctrl-C stops the server.")
}
