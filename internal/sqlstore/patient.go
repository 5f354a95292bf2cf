package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"ekbom"
)

const patientCols = `id, mrn, name, birth_date, sex, notes, created_at, updated_at, version`

func scanPatient(sc scanner) (*ekbom.PatientRecord, error) {
	var p ekbom.PatientRecord
	var mrn sql.NullString
	var sex string
	err := sc.Scan(&p.ID, &mrn, &p.Name, nullDateCol{&p.BirthDate}, &sex, &p.Notes,
		timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt}, &p.Version)
	if err != nil {
		return nil, err
	}
	p.MRN, p.Sex = mrn.String, ekbom.Sex(sex)
	return &p, nil
}

// cleanPatient trims the name and MRN and checks the record.
func cleanPatient(p *ekbom.PatientRecord) error {
	if p == nil {
		return fmt.Errorf("nil patient: %w", ekbom.ErrInvalid)
	}
	p.Name = strings.TrimSpace(p.Name)
	p.MRN = strings.TrimSpace(p.MRN)
	var v ekbom.ValidationError
	if p.Name == "" {
		v.Add("name", "is required")
	}
	switch p.Sex {
	case "", ekbom.Female, ekbom.Male:
	default:
		v.Add("sex", "must be female or male, not %q", p.Sex)
	}
	if p.BirthDate != nil && p.BirthDate.IsZero() {
		p.BirthDate = nil
	}
	return v.Err()
}

// CreatePatient stores a new patient record, setting its ID, times and
// Version 1. Name and MRN are trimmed; a non-empty MRN must be unique
// (case-insensitively) or ErrConflict is returned.
func (s *Store) CreatePatient(ctx context.Context, p *ekbom.PatientRecord, actor string) error {
	if err := cleanPatient(p); err != nil {
		return fmt.Errorf("sqlstore: create patient: %w", err)
	}
	if err := checkActor(actor); err != nil {
		return fmt.Errorf("sqlstore: create patient: %w", err)
	}
	id, err := newID()
	if err != nil {
		return fmt.Errorf("sqlstore: create patient: %w", err)
	}
	now := s.now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO patients
	(id, mrn, mrn_key, name, name_key, birth_date, sex, notes, created_at, updated_at, version)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`),
			id, nullString(p.MRN), nullString(key(p.MRN)), p.Name, key(p.Name), dateArg(p.BirthDate),
			string(p.Sex), p.Notes, s.timeArg(now), s.timeArg(now))
		if err != nil {
			if s.d.IsUniqueViolation(err) {
				return fmt.Errorf("MRN already in use: %w", ekbom.ErrConflict)
			}
			return err
		}
		return s.audit(ctx, tx, now, actor, "create", "patient", id, "")
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create patient: %w", err)
	}
	p.ID, p.CreatedAt, p.UpdatedAt, p.Version = id, now, now, 1
	return nil
}

// GetPatient returns the patient with the given ID.
func (s *Store) GetPatient(ctx context.Context, id string) (*ekbom.PatientRecord, error) {
	row := s.read.QueryRowContext(ctx, s.q(`SELECT `+patientCols+` FROM patients WHERE id = ?`), id)
	p, err := scanPatient(row)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get patient %s: %w", id, notFound(err))
	}
	return p, nil
}

// UpdatePatient saves p if p.Version is the stored version, then increments
// p.Version. A stale version gives ErrConflict, a missing patient
// ErrNotFound, an MRN used by another patient ErrConflict.
func (s *Store) UpdatePatient(ctx context.Context, p *ekbom.PatientRecord, actor string) error {
	if err := cleanPatient(p); err != nil {
		return fmt.Errorf("sqlstore: update patient: %w", err)
	}
	if err := checkActor(actor); err != nil {
		return fmt.Errorf("sqlstore: update patient %s: %w", p.ID, err)
	}
	now := s.now()
	var created ekbom.PatientRecord
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q(`UPDATE patients SET
	mrn = ?, mrn_key = ?, name = ?, name_key = ?, birth_date = ?, sex = ?, notes = ?,
	updated_at = ?, version = version + 1
	WHERE id = ? AND version = ?
	RETURNING created_at`),
			nullString(p.MRN), nullString(key(p.MRN)), p.Name, key(p.Name), dateArg(p.BirthDate),
			string(p.Sex), p.Notes, s.timeArg(now), p.ID, p.Version).Scan(timeCol{&created.CreatedAt})
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return s.staleOrMissing(ctx, tx, "patients", p.ID, p.Version)
		case err != nil && s.d.IsUniqueViolation(err):
			return fmt.Errorf("MRN already in use: %w", ekbom.ErrConflict)
		case err != nil:
			return err
		}
		return s.audit(ctx, tx, now, actor, "update", "patient", p.ID, fmt.Sprintf("version=%d", p.Version+1))
	})
	if err != nil {
		return fmt.Errorf("sqlstore: update patient %s: %w", p.ID, err)
	}
	p.CreatedAt, p.UpdatedAt, p.Version = created.CreatedAt, now, p.Version+1
	return nil
}

// staleOrMissing explains an optimistic update that changed no row: the row
// is gone (ErrNotFound) or has moved past version (ErrConflict).
func (s *Store) staleOrMissing(ctx context.Context, tx *sql.Tx, table, id string, version int) error {
	var current int
	err := tx.QueryRowContext(ctx, s.q(`SELECT version FROM `+table+` WHERE id = ?`), id).Scan(&current)
	if err != nil {
		return notFound(err)
	}
	return fmt.Errorf("version %d is stale, current is %d: %w", version, current, ekbom.ErrConflict)
}

// DeletePatient removes the patient with its visits and assessments. The
// audit entries about them stay.
func (s *Store) DeletePatient(ctx context.Context, id string, actor string) error {
	if err := checkActor(actor); err != nil {
		return fmt.Errorf("sqlstore: delete patient %s: %w", id, err)
	}
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var visits, assessments int
		err := tx.QueryRowContext(ctx, s.q(`SELECT
	(SELECT COUNT(*) FROM visits WHERE patient_id = ?),
	(SELECT COUNT(*) FROM assessments WHERE patient_id = ?)`), id, id).Scan(&visits, &assessments)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM patients WHERE id = ?`), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ekbom.ErrNotFound
		}
		return s.audit(ctx, tx, now, actor, "delete", "patient", id,
			fmt.Sprintf("visits=%d assessments=%d", visits, assessments))
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete patient %s: %w", id, err)
	}
	return nil
}

// ListPatients returns patients ordered by name (case-insensitively), then
// ID. f.Query matches a case-insensitive substring of the name or MRN.
func (s *Store) ListPatients(ctx context.Context, f ekbom.PatientFilter) ([]ekbom.PatientRecord, error) {
	n, err := limit(f.Limit, DefaultPatientLimit)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list patients: %w", err)
	}
	if f.Offset < 0 {
		return nil, fmt.Errorf("sqlstore: list patients: negative offset: %w", ekbom.ErrInvalid)
	}
	query := `SELECT ` + patientCols + ` FROM patients`
	var args []any
	if q := key(f.Query); q != "" {
		query += ` WHERE name_key LIKE ? ESCAPE '\' OR mrn_key LIKE ? ESCAPE '\'`
		args = append(args, likePattern(q), likePattern(q))
	}
	query += ` ORDER BY name_key, id LIMIT ? OFFSET ?`
	args = append(args, n, f.Offset)
	rows, err := s.read.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list patients: %w", err)
	}
	defer rows.Close()
	out := []ekbom.PatientRecord{}
	for rows.Next() {
		p, err := scanPatient(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list patients: %w", err)
		}
		out = append(out, *p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list patients: %w", err)
	}
	return out, nil
}
