package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"ekbom"
)

const visitCols = `id, patient_id, visit_date, data, created_by, created_at, updated_at, version`

func scanVisit(sc scanner) (*ekbom.Visit, error) {
	var v ekbom.Visit
	var data []byte
	err := sc.Scan(&v.ID, &v.PatientID, dateCol{&v.Date}, &data, &v.CreatedBy,
		timeCol{&v.CreatedAt}, timeCol{&v.UpdatedAt}, &v.Version)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &v.Data); err != nil {
		return nil, fmt.Errorf("decode visit %s data: %w", v.ID, err)
	}
	return &v, nil
}

// cleanVisit checks v and reconciles its date with Data.AsOf, which is the
// visit date: either may be given, and if both are they must agree. It
// returns the data encoded as JSON. The patient is required on create only.
func cleanVisit(v *ekbom.Visit, create bool) ([]byte, error) {
	if v == nil {
		return nil, fmt.Errorf("nil visit: %w", ekbom.ErrInvalid)
	}
	var verr ekbom.ValidationError
	if create && v.PatientID == "" {
		verr.Add("patient_id", "is required")
	}
	switch {
	case v.Date.IsZero() && v.Data.AsOf.IsZero():
		verr.Add("date", "is required")
	case v.Date.IsZero():
		v.Date = v.Data.AsOf
	case v.Data.AsOf.IsZero():
		v.Data.AsOf = v.Date
	case v.Date.String() != v.Data.AsOf.String():
		verr.Add("data.as_of", "is %s but the visit date is %s", v.Data.AsOf, v.Date)
	}
	if err := verr.Err(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(v.Data)
	if err != nil {
		return nil, fmt.Errorf("encode visit data: %w", err)
	}
	return data, nil
}

// CreateVisit stores a new visit of an existing patient (else ErrNotFound),
// setting its ID, CreatedBy (actor), times and Version 1.
func (s *Store) CreateVisit(ctx context.Context, v *ekbom.Visit, actor string) error {
	data, err := cleanVisit(v, true)
	if err != nil {
		return fmt.Errorf("sqlstore: create visit: %w", err)
	}
	if err := checkActor(actor); err != nil {
		return fmt.Errorf("sqlstore: create visit: %w", err)
	}
	id, err := newID()
	if err != nil {
		return fmt.Errorf("sqlstore: create visit: %w", err)
	}
	now := s.now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.patientExists(ctx, tx, v.PatientID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO visits
	(id, patient_id, visit_date, data, created_by, created_at, updated_at, version)
	VALUES (?, ?, ?, ?, ?, ?, ?, 1)`),
			id, v.PatientID, v.Date.String(), string(data), actor, s.timeArg(now), s.timeArg(now))
		if err != nil {
			if s.d.IsForeignKeyViolation(err) {
				return fmt.Errorf("patient %s: %w", v.PatientID, ekbom.ErrNotFound)
			}
			return err
		}
		return s.audit(ctx, tx, now, actor, "create", "visit", id, "patient_id="+v.PatientID)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create visit: %w", err)
	}
	v.ID, v.CreatedBy, v.CreatedAt, v.UpdatedAt, v.Version = id, actor, now, now, 1
	return nil
}

// patientExists returns ErrNotFound unless the patient exists.
func (s *Store) patientExists(ctx context.Context, tx *sql.Tx, id string) error {
	var one int
	err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM patients WHERE id = ?`), id).Scan(&one)
	if err != nil {
		return fmt.Errorf("patient %s: %w", id, notFound(err))
	}
	return nil
}

// GetVisit returns the visit with the given ID.
func (s *Store) GetVisit(ctx context.Context, id string) (*ekbom.Visit, error) {
	row := s.read.QueryRowContext(ctx, s.q(`SELECT `+visitCols+` FROM visits WHERE id = ?`), id)
	v, err := scanVisit(row)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get visit %s: %w", id, notFound(err))
	}
	return v, nil
}

// UpdateVisit saves the date and data of v if v.Version is the stored
// version, then increments v.Version. A visit cannot move to another patient
// (ErrInvalid); an empty PatientID is filled in.
func (s *Store) UpdateVisit(ctx context.Context, v *ekbom.Visit, actor string) error {
	data, err := cleanVisit(v, false)
	if err != nil {
		return fmt.Errorf("sqlstore: update visit: %w", err)
	}
	if err := checkActor(actor); err != nil {
		return fmt.Errorf("sqlstore: update visit %s: %w", v.ID, err)
	}
	now := s.now()
	var stored ekbom.Visit
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q(`SELECT patient_id FROM visits WHERE id = ?`), v.ID).Scan(&stored.PatientID)
		if err != nil {
			return notFound(err)
		}
		if v.PatientID != "" && v.PatientID != stored.PatientID {
			return fmt.Errorf("a visit cannot move to another patient: %w", ekbom.ErrInvalid)
		}
		err = tx.QueryRowContext(ctx, s.q(`UPDATE visits SET
	visit_date = ?, data = ?, updated_at = ?, version = version + 1
	WHERE id = ? AND version = ?
	RETURNING created_by, created_at`),
			v.Date.String(), string(data), s.timeArg(now), v.ID, v.Version).Scan(&stored.CreatedBy, timeCol{&stored.CreatedAt})
		if errors.Is(err, sql.ErrNoRows) {
			return s.staleOrMissing(ctx, tx, "visits", v.ID, v.Version)
		}
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, now, actor, "update", "visit", v.ID,
			fmt.Sprintf("patient_id=%s version=%d", stored.PatientID, v.Version+1))
	})
	if err != nil {
		return fmt.Errorf("sqlstore: update visit %s: %w", v.ID, err)
	}
	v.PatientID, v.CreatedBy, v.CreatedAt = stored.PatientID, stored.CreatedBy, stored.CreatedAt
	v.UpdatedAt, v.Version = now, v.Version+1
	return nil
}

// DeleteVisit removes a visit. Assessments made from it stay, without the
// link to it.
func (s *Store) DeleteVisit(ctx context.Context, id string, actor string) error {
	if err := checkActor(actor); err != nil {
		return fmt.Errorf("sqlstore: delete visit %s: %w", id, err)
	}
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var patientID string
		err := tx.QueryRowContext(ctx, s.q(`SELECT patient_id FROM visits WHERE id = ?`), id).Scan(&patientID)
		if err != nil {
			return notFound(err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM visits WHERE id = ?`), id); err != nil {
			return err
		}
		return s.audit(ctx, tx, now, actor, "delete", "visit", id, "patient_id="+patientID)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete visit %s: %w", id, err)
	}
	return nil
}

// ListVisits returns the visits of a patient, oldest first (by visit date,
// then creation). An unknown patient has no visits.
func (s *Store) ListVisits(ctx context.Context, patientID string) ([]ekbom.Visit, error) {
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT `+visitCols+` FROM visits
	WHERE patient_id = ? ORDER BY visit_date, created_at, id`), patientID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list visits of %s: %w", patientID, err)
	}
	defer rows.Close()
	out := []ekbom.Visit{}
	for rows.Next() {
		v, err := scanVisit(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list visits of %s: %w", patientID, err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list visits of %s: %w", patientID, err)
	}
	return out, nil
}
