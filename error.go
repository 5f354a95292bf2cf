package ekbom

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, wrapped with %w and tested with errors.Is.
var (
	// ErrInvalid means the input breaks the contract or a clinical range.
	ErrInvalid = errors.New("invalid input")
	// ErrOutOfScope means the input is valid but outside what ekbom covers,
	// for example a patient under 18.
	ErrOutOfScope = errors.New("out of scope")
	// ErrNotFound means a requested record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the request conflicts with the current state.
	ErrConflict = errors.New("conflict")
)

// Problem is one thing wrong with an input, at a field path such as
// "labs[2].unit".
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem found in an input at once.
// It matches ErrInvalid with errors.Is, and ErrOutOfScope too when
// OutOfScope is set.
type ValidationError struct {
	Problems   []Problem
	OutOfScope bool
}

// Add records a problem at path.
func (e *ValidationError) Add(path, format string, args ...any) {
	e.Problems = append(e.Problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Err returns e when it holds problems and nil otherwise.
func (e *ValidationError) Err() error {
	if e == nil || len(e.Problems) == 0 {
		return nil
	}
	return e
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalid) true for every ValidationError.
func (e *ValidationError) Is(target error) bool {
	return target == ErrInvalid || (e.OutOfScope && target == ErrOutOfScope)
}
