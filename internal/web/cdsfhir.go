package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"ekbom/cdshooks"
)

// FHIR fallback: prefetch keys the EHR did not send are fetched from its
// FHIR server (fhirServer) with the access token it passed
// (fhirAuthorization), all within CDSOptions.FHIRTimeout. Only https servers
// are called (http on loopback in tests), and only the servers an issuer's
// fhir_servers list, when it has one. Search results are followed through
// at most fhirMaxPages pages of the same server. The token is never logged.

const (
	fhirMaxPages  = 10
	fhirBodyLimit = 4 << 20
)

// fetchPrefetch fetches the prefetch keys from the request's FHIR server.
// It returns what it could fetch and, when something is left, why.
func (s *Server) fetchPrefetch(ctx context.Context, req *cdshooks.Request, svc cdshooks.Service, keys []string, caller *cdsCaller) (map[string]json.RawMessage, string) {
	auth := req.FHIRAuthorization
	if req.FHIRServer == "" || auth == nil || auth.AccessToken == "" {
		return nil, "the request has no fhirServer and fhirAuthorization to fetch it from"
	}
	base := strings.TrimRight(req.FHIRServer, "/")
	if why := s.fhirServerAllowed(base, caller); why != "" {
		return nil, why
	}
	ctx, cancel := context.WithTimeout(ctx, s.cds.opt.FHIRTimeout)
	defer cancel()
	type result struct {
		key string
		raw json.RawMessage
		err error
	}
	ch := make(chan result, len(keys))
	for _, k := range keys {
		go func() {
			rel, ok := cdshooks.Expand(svc.Prefetch[k], req.Context)
			if !ok {
				ch <- result{key: k, err: errors.New("the prefetch template cannot be filled from the context")}
				return
			}
			raw, err := s.fhirSearch(ctx, base, rel, auth.AccessToken)
			ch <- result{key: k, raw: raw, err: err}
		}()
	}
	out := map[string]json.RawMessage{}
	var failed []string
	for range keys {
		r := <-ch
		if r.err != nil {
			failed = append(failed, r.key+": "+r.err.Error())
			continue
		}
		out[r.key] = r.raw
	}
	if len(failed) == 0 {
		return out, ""
	}
	sort.Strings(failed)
	s.log.Warn("CDS Hooks: FHIR fetch failed", "fhir_host", hostOf(base), "failures", strings.Join(failed, "; "))
	return out, "could not be fetched from the FHIR server (" + strings.Join(failed, "; ") + ")"
}

// fhirServerAllowed returns why base may not be called, or "".
func (s *Server) fhirServerAllowed(base string, caller *cdsCaller) string {
	u, err := url.Parse(base)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil {
		return "fhirServer is not a usable URL"
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && s.cds.opt.AllowHTTPLoopback && loopbackHost(u.Hostname()):
	default:
		return "ekbom fetches FHIR data over https only"
	}
	if caller != nil && caller.issuer != nil && len(caller.issuer.FHIRServers) > 0 {
		for _, a := range caller.issuer.FHIRServers {
			if strings.TrimRight(a, "/") == base {
				return ""
			}
		}
		return "fhirServer is not one of the issuer's fhir_servers"
	}
	return ""
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

// fhirSearch reads base/rel: a resource, or a search whose pages it joins
// into one searchset Bundle.
func (s *Server) fhirSearch(ctx context.Context, base, rel, token string) (json.RawMessage, error) {
	next := base + "/" + rel
	var entries []json.RawMessage
	for page := 0; next != ""; page++ {
		if page == fhirMaxPages {
			return nil, fmt.Errorf("more than %d pages of results", fhirMaxPages)
		}
		body, err := s.fhirGet(ctx, next, token)
		if err != nil {
			return nil, err
		}
		var b struct {
			ResourceType string `json:"resourceType"`
			Link         []struct {
				Relation string `json:"relation"`
				URL      string `json:"url"`
			} `json:"link"`
			Entry []json.RawMessage `json:"entry"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, errors.New("the answer is not a FHIR JSON resource")
		}
		if b.ResourceType != "Bundle" {
			if page == 0 {
				return body, nil // a read
			}
			return nil, errors.New("a result page is not a Bundle")
		}
		entries = append(entries, b.Entry...)
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" && l.URL != "" {
				if hostOf(l.URL) != hostOf(base) || !strings.HasPrefix(l.URL, base) {
					return nil, errors.New("a next link leaves the FHIR server")
				}
				next = l.URL
			}
		}
	}
	if entries == nil {
		entries = []json.RawMessage{}
	}
	return json.Marshal(struct {
		ResourceType string            `json:"resourceType"`
		Type         string            `json:"type"`
		Entry        []json.RawMessage `json:"entry"`
	}{"Bundle", "searchset", entries})
}

// fhirGet GETs one FHIR URL with the access token.
func (s *Server) fhirGet(ctx context.Context, u, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, errors.New("bad URL")
	}
	req.Header.Set("Accept", "application/fhir+json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.cds.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, errors.New("no answer within the deadline")
		}
		return nil, errors.New("the FHIR server could not be reached")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, fhirBodyLimit+1))
	if err != nil {
		return nil, errors.New("the answer could not be read")
	}
	if len(body) > fhirBodyLimit {
		return nil, errors.New("the answer is larger than 4 MiB")
	}
	return body, nil
}
