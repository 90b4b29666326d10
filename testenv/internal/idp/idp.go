// Package idp runs the local OpenID provider of the test fleet: Panva's
// oidc-provider (Node) from testenv/idp/server.mjs, configured from a JSON file
// that this package writes.
//
// One provider instance lives in its own directory (Config.Dir, e.g.
// <state>/idp) and holds there:
//
//	config.json      what server.mjs reads (issuer, listen address, clients, users)
//	client-secret    the first client's secret (later clients: client-secret-<id>)
//	keys.json        signing and cookie keys, created by the server on first start
//	idp.log, idp.pid log and pidfile of the detached node process
//
// Several instances (e.g. a second provider for multi-provider tests) run side
// by side when each has its own Dir and Listen address.
//
// Typical use from `testenv up`:
//
//	cfg := idp.DefaultConfig(filepath.Join(state, "idp"), filepath.Join(repo, "testenv", "idp"), "127.0.0.1:15556")
//	inst, err := idp.Start(ctx, cfg)   // idempotent; inst.Started tells whether it was (re)started
//	...
//	err = idp.Stop(filepath.Join(state, "idp"))
package idp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"fleetpane/testenv/internal/proc"
)

// User is one account of the provider. Its `sub` defaults to the local part
// of Email; its name to that part capitalised.
type User struct {
	Email    string   `json:"email"`
	Password string   `json:"password"`
	Groups   []string `json:"groups"`
	Name     string   `json:"name,omitempty"`
	Sub      string   `json:"sub,omitempty"`
}

// Client is one registered OAuth client. It is confidential: it authenticates
// at the token endpoint with client_secret_basic or client_secret_post, and
// must use PKCE (S256).
type Client struct {
	ID string
	// Secret, if empty, is read from SecretFile when that exists, else a
	// random one is generated and written there.
	Secret string
	// SecretFile defaults to <Dir>/client-secret for the first client and
	// <Dir>/client-secret-<ID> for the others.
	SecretFile             string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
}

// Config describes one provider instance.
type Config struct {
	// Name is used in messages and process names ("local", "second"...).
	Name string
	// Dir is this instance's state directory (created if missing).
	Dir string
	// ServerDir is the directory holding server.mjs, package.json and
	// node_modules (the repo's testenv/idp).
	ServerDir string
	// Listen is the loopback host:port to bind, e.g. "127.0.0.1:15556".
	Listen string
	// Issuer defaults to "http://" + Listen.
	Issuer string
	// Title is shown on the login page (default "Local IdP").
	Title string
	// Node is the node program (default "node" from PATH).
	Node string
	// Clients and Users; see DefaultConfig for the contract's values.
	Clients []Client
	Users   []User
	// Lifetimes; zero means the default shown.
	IDTokenTTL      time.Duration // 5m
	AccessTokenTTL  time.Duration // 5m
	RefreshTokenTTL time.Duration // 24h
	SessionTTL      time.Duration // 24h
	// ConsentPage shows a one-click consent page instead of granting consent
	// automatically.
	ConsentPage bool
	// LogoutPage keeps the RP-initiated logout confirmation page from
	// submitting itself (a person must click "Yes, sign me out").
	LogoutPage bool
	// SkipNpmInstall: do not run `npm ci` when node_modules is missing or stale.
	SkipNpmInstall bool
	// Timeout for the process to serve discovery (default 60s).
	Timeout time.Duration
	// LogFile and PidFile default to <Dir>/idp.log and <Dir>/idp.pid. When
	// PidFile is overridden, stop with proc.Stop(pidfile, grace), not Stop(dir).
	LogFile string
	PidFile string
}

// Instance describes a running provider.
type Instance struct {
	Name    string
	PID     int
	Issuer  string
	Listen  string
	Dir     string
	LogFile string
	PidFile string
	// ConfigFile is the JSON file given to server.mjs.
	ConfigFile string
	// ClientSecretFiles maps client ID to its secret file (absolute path).
	ClientSecretFiles map[string]string
	// Started is false when an identical instance was already running and
	// was left alone.
	Started bool
}

// Default addresses and client of the contract.
const (
	DefaultListen       = "127.0.0.1:15556"
	DefaultClientID     = "fleetpane"
	DefaultFleetpaneURL = "http://127.0.0.1:3000"
)

// DemoUsers returns the contract's demo users (password "<name>-password").
func DemoUsers() []User {
	mk := func(name string, groups ...string) User {
		if groups == nil {
			groups = []string{}
		}
		return User{Email: name + "@example.com", Password: name + "-password", Groups: groups, Sub: name}
	}
	return []User{
		mk("alice", "sre"),
		mk("bob", "team-a"),
		mk("carol"),
		mk("dave", "viewers"),
	}
}

// ProviderName is the local IdP's name in fleetpane.toml: Fleetpane's
// redirect URI for it is <public>/auth/callback/<ProviderName>.
const ProviderName = "local"

// FleetpaneClient returns the contract's `fleetpane` client for a Fleetpane
// served at publicURL (e.g. "http://127.0.0.1:3000"); the localhost variant of
// the callback is allowed too. Redirect URIs: the per-provider callback
// (/auth/callback/local, what Fleetpane uses) and the older /auth/callback,
// also for http://127.0.0.1:3001-3009.
func FleetpaneClient(publicURL string) Client {
	publicURL = strings.TrimRight(publicURL, "/")
	bases := []string{publicURL}
	if alt := strings.Replace(publicURL, "://127.0.0.1:", "://localhost:", 1); alt != publicURL {
		bases = append(bases, alt)
	}
	// Side-by-side Fleetpane instances on the next ports (development, one per
	// person or branch) sign in against the same IdP.
	for port := 3001; port <= 3009; port++ {
		bases = append(bases, fmt.Sprintf("http://127.0.0.1:%d", port))
	}
	var redirects, logout []string
	for _, base := range bases {
		redirects = append(redirects, base+"/auth/callback", base+"/auth/callback/"+ProviderName)
		logout = append(logout, base+"/")
	}
	return Client{ID: DefaultClientID, RedirectURIs: redirects, PostLogoutRedirectURIs: logout}
}

// DefaultConfig is the contract's provider: issuer http://<listen>, client
// `fleetpane` for Fleetpane on http://127.0.0.1:3000, the demo users.
func DefaultConfig(dir, serverDir, listen string) Config {
	if listen == "" {
		listen = DefaultListen
	}
	return Config{
		Name:      "local",
		Dir:       dir,
		ServerDir: serverDir,
		Listen:    listen,
		Clients:   []Client{FleetpaneClient(DefaultFleetpaneURL)},
		Users:     DemoUsers(),
	}
}

// fileConfig is the JSON read by server.mjs.
type fileConfig struct {
	Issuer          string `json:"issuer"`
	Listen          string `json:"listen"`
	Title           string `json:"title"`
	KeysFile        string `json:"keys_file"`
	IDTokenTTL      int    `json:"id_token_ttl_seconds"`
	AccessTokenTTL  int    `json:"access_token_ttl_seconds"`
	RefreshTokenTTL int    `json:"refresh_token_ttl_seconds"`
	SessionTTL      int    `json:"session_ttl_seconds"`
	AutoConsent     bool   `json:"auto_consent"`
	AutoLogout      bool   `json:"auto_logout"`
	// ServerSHA256 (ignored by the server) makes the config differ when
	// server.mjs or package-lock.json change, so that Start restarts it.
	ServerSHA256 string       `json:"server_sha256"`
	Clients      []fileClient `json:"clients"`
	Users        []User       `json:"users"`
}

type fileClient struct {
	ClientID               string   `json:"client_id"`
	ClientSecretFile       string   `json:"client_secret_file"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
}

// Paths of an instance directory.
func ConfigFile(dir string) string { return filepath.Join(dir, "config.json") }
func PidFile(dir string) string    { return filepath.Join(dir, "idp.pid") }
func LogFile(dir string) string    { return filepath.Join(dir, "idp.log") }

func (c *Config) normalize() error {
	var problems []string
	if c.Name == "" {
		c.Name = "local"
	}
	if c.Dir == "" {
		problems = append(problems, "Dir is required")
	} else if abs, err := filepath.Abs(c.Dir); err == nil {
		c.Dir = abs
	}
	if c.ServerDir == "" {
		problems = append(problems, "ServerDir is required (the repo's testenv/idp)")
	} else if abs, err := filepath.Abs(c.ServerDir); err == nil {
		c.ServerDir = abs
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		problems = append(problems, fmt.Sprintf("Listen %q: %v", c.Listen, err))
	} else if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		problems = append(problems, fmt.Sprintf("Listen %q: host must be a loopback IP", c.Listen))
	} else if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		problems = append(problems, fmt.Sprintf("Listen %q: bad port", c.Listen))
	}
	if c.Issuer == "" {
		c.Issuer = "http://" + c.Listen
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	if c.Node == "" {
		c.Node = "node"
	}
	if len(c.Clients) == 0 {
		problems = append(problems, "at least one client is required")
	}
	if len(c.Users) == 0 {
		problems = append(problems, "at least one user is required")
	}
	for i := range c.Clients {
		cl := &c.Clients[i]
		if cl.ID == "" {
			problems = append(problems, fmt.Sprintf("Clients[%d].ID is required", i))
		}
		if cl.SecretFile == "" && c.Dir != "" {
			if i == 0 {
				cl.SecretFile = filepath.Join(c.Dir, "client-secret")
			} else {
				cl.SecretFile = filepath.Join(c.Dir, "client-secret-"+cl.ID)
			}
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = 60 * time.Second
	}
	if c.LogFile == "" && c.Dir != "" {
		c.LogFile = LogFile(c.Dir)
	}
	if c.PidFile == "" && c.Dir != "" {
		c.PidFile = PidFile(c.Dir)
	}
	if len(problems) > 0 {
		return fmt.Errorf("idp[%s]: invalid config: %s", c.Name, strings.Join(problems, "; "))
	}
	return nil
}

func secs(d, def time.Duration) int {
	if d <= 0 {
		d = def
	}
	return int(d / time.Second)
}

// writeSecrets makes sure every client's secret file exists with its secret.
func writeSecrets(c *Config) error {
	for i := range c.Clients {
		cl := &c.Clients[i]
		if cl.Secret == "" {
			if b, err := os.ReadFile(cl.SecretFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
				cl.Secret = string(bytes.TrimSpace(b))
				continue
			}
			buf := make([]byte, 24)
			if _, err := rand.Read(buf); err != nil {
				return err
			}
			cl.Secret = hex.EncodeToString(buf)
		}
		if b, err := os.ReadFile(cl.SecretFile); err == nil && string(bytes.TrimSpace(b)) == cl.Secret {
			continue
		}
		if err := writeFileAtomic(cl.SecretFile, []byte(cl.Secret+"\n"), 0o600); err != nil {
			return fmt.Errorf("client %s secret: %w", cl.ID, err)
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func renderConfig(c *Config) ([]byte, error) {
	fc := fileConfig{
		Issuer:          c.Issuer,
		Listen:          c.Listen,
		Title:           c.Title,
		KeysFile:        filepath.Join(c.Dir, "keys.json"),
		IDTokenTTL:      secs(c.IDTokenTTL, 5*time.Minute),
		AccessTokenTTL:  secs(c.AccessTokenTTL, 5*time.Minute),
		RefreshTokenTTL: secs(c.RefreshTokenTTL, 24*time.Hour),
		SessionTTL:      secs(c.SessionTTL, 24*time.Hour),
		AutoConsent:     !c.ConsentPage,
		AutoLogout:      !c.LogoutPage,
		ServerSHA256:    serverHash(c.ServerDir),
		Users:           c.Users,
	}
	if fc.Title == "" {
		fc.Title = "Local IdP"
	}
	for _, cl := range c.Clients {
		fc.Clients = append(fc.Clients, fileClient{
			ClientID:               cl.ID,
			ClientSecretFile:       cl.SecretFile,
			RedirectURIs:           nonNil(cl.RedirectURIs),
			PostLogoutRedirectURIs: nonNil(cl.PostLogoutRedirectURIs),
		})
	}
	for i := range fc.Users {
		fc.Users[i].Groups = nonNil(fc.Users[i].Groups)
	}
	b, err := json.MarshalIndent(fc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// serverHash hashes server.mjs and package-lock.json ("" if unreadable).
func serverHash(serverDir string) string {
	h := sha256.New()
	for _, f := range []string{"server.mjs", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(serverDir, f))
		if err != nil {
			return ""
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// EnsureDeps runs `npm ci` in serverDir when node_modules lacks oidc-provider
// or is older than package-lock.json. Output goes to w (may be nil).
func EnsureDeps(ctx context.Context, serverDir string, w io.Writer) error {
	lock := filepath.Join(serverDir, "package-lock.json")
	marker := filepath.Join(serverDir, "node_modules", ".package-lock.json")
	lockInfo, err := os.Stat(lock)
	if err != nil {
		return fmt.Errorf("idp: %w (is ServerDir the repo's testenv/idp?)", err)
	}
	if mi, err := os.Stat(marker); err == nil && !mi.ModTime().Before(lockInfo.ModTime()) {
		if _, err := os.Stat(filepath.Join(serverDir, "node_modules", "oidc-provider", "package.json")); err == nil {
			return nil
		}
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--prefix", serverDir)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if w != nil {
		cmd.Stdout = io.MultiWriter(&out, w)
		cmd.Stderr = cmd.Stdout
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("idp: npm ci --prefix %s failed: %v\n%s", serverDir, err, tail(out.String(), 20))
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Start writes the instance's config and secret files into cfg.Dir, spawns
// `node server.mjs <config.json>` detached (log cfg.Dir/idp.log, pidfile
// cfg.Dir/idp.pid) and waits until the discovery document is served with the
// expected issuer.
//
// It is idempotent: when the instance already runs with the same config file
// content it is left alone (Instance.Started false); when it runs with another
// config it is stopped and started again. A port taken by something else gives
// a *proc.PortInUseError naming the port and the component.
func Start(ctx context.Context, cfg Config) (*Instance, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	component := "idp[" + cfg.Name + "]"
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", component, err)
	}
	if err := writeSecrets(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", component, err)
	}
	content, err := renderConfig(&cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", component, err)
	}
	inst := &Instance{
		Name: cfg.Name, Issuer: cfg.Issuer, Listen: cfg.Listen, Dir: cfg.Dir,
		LogFile: cfg.LogFile, PidFile: cfg.PidFile, ConfigFile: ConfigFile(cfg.Dir),
		ClientSecretFiles: map[string]string{},
	}
	for _, cl := range cfg.Clients {
		inst.ClientSecretFiles[cl.ID] = cl.SecretFile
	}

	if pid, ok := proc.Running(inst.PidFile); ok {
		old, _ := os.ReadFile(inst.ConfigFile)
		if bytes.Equal(old, content) && Healthy(ctx, cfg.Issuer) == nil {
			inst.PID = pid
			return inst, nil
		}
		if err := proc.Stop(inst.PidFile, 5*time.Second); err != nil {
			return nil, fmt.Errorf("%s: stopping the old instance (pid %d): %w", component, pid, err)
		}
	}

	if err := proc.CheckPortFree(cfg.Listen, component); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(cfg.ServerDir, "server.mjs")); err != nil {
		return nil, fmt.Errorf("%s: %w (ServerDir must be the repo's testenv/idp)", component, err)
	}
	if !cfg.SkipNpmInstall {
		if err := EnsureDeps(ctx, cfg.ServerDir, nil); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(filepath.Join(cfg.ServerDir, "node_modules", "oidc-provider")); err != nil {
		return nil, fmt.Errorf("%s: oidc-provider is not installed: run `npm ci --prefix %s`", component, cfg.ServerDir)
	}
	if err := writeFileAtomic(inst.ConfigFile, content, 0o600); err != nil {
		return nil, fmt.Errorf("%s: %w", component, err)
	}

	pid, err := proc.Spawn(proc.Spec{
		Name:    component,
		Path:    cfg.Node,
		Args:    []string{filepath.Join(cfg.ServerDir, "server.mjs"), inst.ConfigFile},
		Dir:     cfg.ServerDir,
		Env:     []string{"NODE_ENV=development"},
		LogFile: inst.LogFile,
		PidFile: inst.PidFile,
	})
	if err != nil {
		return nil, err
	}
	inst.PID = pid
	inst.Started = true

	wctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := proc.WaitHTTP(wctx, cfg.Issuer+"/.well-known/openid-configuration", &proc.WaitOptions{PID: pid, LogFile: inst.LogFile, Interval: 150 * time.Millisecond}); err != nil {
		_ = proc.Stop(inst.PidFile, 3*time.Second)
		return nil, fmt.Errorf("%s: %w", component, err)
	}
	if err := checkDiscovery(wctx, cfg.Issuer); err != nil {
		_ = proc.Stop(inst.PidFile, 3*time.Second)
		return nil, fmt.Errorf("%s: %w", component, err)
	}
	return inst, nil
}

// checkDiscovery fetches the discovery document and checks its issuer.
func checkDiscovery(ctx context.Context, issuer string) error {
	d, err := FetchDiscovery(ctx, http.DefaultClient, issuer)
	if err != nil {
		return err
	}
	if d.Issuer != issuer {
		return fmt.Errorf("discovery at %s names issuer %q, want %q", issuer, d.Issuer, issuer)
	}
	return nil
}

// Stop stops the instance whose state directory is dir (by its pidfile).
// Stopping an instance that does not run is not an error.
func Stop(dir string) error {
	if err := proc.Stop(PidFile(dir), 5*time.Second); err != nil {
		return fmt.Errorf("idp (%s): %w", dir, err)
	}
	return nil
}

// Running reports the PID of the instance in dir and whether it runs.
func Running(dir string) (int, bool) { return proc.Running(PidFile(dir)) }

// Healthy reports whether the provider at issuer serves its discovery
// document with that issuer.
func Healthy(ctx context.Context, issuer string) error {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return checkDiscovery(cctx, issuer)
}

// ErrNoRedirect is returned by Login when the flow did not end at the redirect URI.
var ErrNoRedirect = errors.New("login did not reach the redirect URI")
