package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"ekbom"
	"ekbom/internal/web"
)

// cmdAdmin handles `ekbom admin create …`: an administrator account.
func cmdAdmin(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, usageOf["admin"])
		if len(args) == 1 && isHelp(args[0]) {
			return 0
		}
		return 2
	}
	return createUser(args[1:], "admin", stdin, stdout, stderr)
}

// cmdUser handles `ekbom user create -role clinician|admin …`.
func cmdUser(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(stderr, usageOf["user"])
		if len(args) == 1 && isHelp(args[0]) {
			return 0
		}
		return 2
	}
	return createUser(args[1:], "user", stdin, stdout, stderr)
}

// passwordEnv names the environment variable each command reads the
// password from; without it the first line of stdin is used.
var passwordEnv = map[string]string{"admin": "EKBOM_ADMIN_PASSWORD", "user": "EKBOM_USER_PASSWORD"}

// usageOf is the usage of each command that creates an account.
var usageOf = map[string]string{
	"admin": `usage: ekbom admin create -username NAME [-name "Full Name"] [-db FILE|postgres://…]` + fmt.Sprintf("\n"+
		"  creates an administrator; the password (at least %d characters) comes from EKBOM_ADMIN_PASSWORD or the first line of stdin", web.MinPasswordLen),
	"user": `usage: ekbom user create -username NAME [-role clinician|admin] [-name "Full Name"] [-db FILE|postgres://…]` + fmt.Sprintf("\n"+
		"  creates a clinician (or an administrator); the password (at least %d characters) comes from EKBOM_USER_PASSWORD or the first line of stdin", web.MinPasswordLen),
}

func createUser(args []string, cmd string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd+" create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	username := fs.String("username", "", "login name (lower-case letters, digits, . _ -)")
	name := fs.String("name", "", "full name")
	db := fs.String("db", envOr("EKBOM_DB", defaultDB), "SQLite database file, or a postgres:// DSN (env EKBOM_DB)")
	role := string(ekbom.RoleAdmin)
	if cmd == "user" {
		fs.StringVar(&role, "role", string(ekbom.RoleClinician), "clinician or admin")
	}
	setUsage(fs, stderr, usageOf[cmd])
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	u := strings.ToLower(strings.TrimSpace(*username))
	if !web.ValidUsername(u) {
		fmt.Fprintln(stderr, "-username: 2–64 characters: lower-case letters, digits, dot, underscore or hyphen")
		return 2
	}
	if role != string(ekbom.RoleAdmin) && role != string(ekbom.RoleClinician) {
		fmt.Fprintf(stderr, "-role: %q is not clinician or admin\n", role)
		return 2
	}
	password, err := readPassword(passwordEnv[cmd], stdin, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 2
	}
	hash, err := web.HashPassword(password)
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 2
	}
	ctx := context.Background()
	store, _, err := openStore(ctx, *db)
	if err != nil {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 1
	}
	defer store.Close()
	if _, err := store.GetUserByUsername(ctx, u); err == nil {
		fmt.Fprintf(stderr, "ekbom: user %q already exists; nothing changed\n", u)
		return 1
	} else if !errors.Is(err, ekbom.ErrNotFound) {
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 1
	}
	user := &ekbom.User{Username: u, Name: strings.TrimSpace(*name), Role: ekbom.Role(role), PasswordHash: hash, CreatedAt: time.Now()}
	if err := store.CreateUser(ctx, user); err != nil {
		if errors.Is(err, ekbom.ErrConflict) {
			fmt.Fprintf(stderr, "ekbom: user %q already exists; nothing changed\n", u)
			return 1
		}
		fmt.Fprintf(stderr, "ekbom: %v\n", err)
		return 1
	}
	if err := store.AppendAudit(ctx, ekbom.AuditEntry{At: time.Now(), Actor: "system", Action: "create", Entity: "user", EntityID: user.ID, Detail: "role " + role + " (command line)"}); err != nil {
		fmt.Fprintf(stderr, "ekbom: audit: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "created %s %s\n", role, u)
	return 0
}

// readPassword returns the password from the environment variable env, or
// else the first line of stdin.
func readPassword(env string, stdin io.Reader, stderr io.Writer) (string, error) {
	if pw := os.Getenv(env); pw != "" {
		return pw, nil
	}
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintf(stderr, "Password (at least %d characters; typing is visible, prefer %s or a pipe): ", web.MinPasswordLen, env)
		}
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("no password: set %s or give it on the first line of stdin", env)
	}
	pw := strings.TrimRight(line, "\r\n")
	if len([]rune(pw)) < web.MinPasswordLen {
		return "", fmt.Errorf("password must be at least %d characters", web.MinPasswordLen)
	}
	return pw, nil
}
