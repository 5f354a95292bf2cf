package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"ekbom"
)

const assessmentCols = `id, patient_id, visit_id, created_by, created_at, engine_version, knowledge_version, input, plan`

func scanAssessment(sc scanner) (*ekbom.Assessment, error) {
	var a ekbom.Assessment
	var visitID sql.NullString
	var input, plan []byte
	err := sc.Scan(&a.ID, &a.PatientID, &visitID, &a.CreatedBy, timeCol{&a.CreatedAt},
		&a.EngineVersion, &a.KnowledgeVersion, &input, &plan)
	if err != nil {
		return nil, err
	}
	a.VisitID, a.Input, a.Plan = visitID.String, input, plan
	return &a, nil
}

// CreateAssessment stores an immutable snapshot, setting its ID, CreatedBy
// (actor) and CreatedAt. Input and Plan must be valid JSON and are kept
// byte for byte. The patient must exist, and the visit, if named, must be one
// of the patient's.
func (s *Store) CreateAssessment(ctx context.Context, a *ekbom.Assessment, actor string) error {
	if a == nil {
		return fmt.Errorf("sqlstore: create assessment: nil assessment: %w", ekbom.ErrInvalid)
	}
	var verr ekbom.ValidationError
	if a.PatientID == "" {
		verr.Add("patient_id", "is required")
	}
	if a.EngineVersion == "" {
		verr.Add("engine_version", "is required")
	}
	if a.KnowledgeVersion == "" {
		verr.Add("knowledge_version", "is required")
	}
	if !validJSON(a.Input) {
		verr.Add("input", "is not valid JSON")
	}
	if !validJSON(a.Plan) {
		verr.Add("plan", "is not valid JSON")
	}
	if err := verr.Err(); err != nil {
		return fmt.Errorf("sqlstore: create assessment: %w", err)
	}
	if err := checkActor(actor); err != nil {
		return fmt.Errorf("sqlstore: create assessment: %w", err)
	}
	id, err := newID()
	if err != nil {
		return fmt.Errorf("sqlstore: create assessment: %w", err)
	}
	now := s.now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.patientExists(ctx, tx, a.PatientID); err != nil {
			return err
		}
		if a.VisitID != "" {
			var owner string
			err := tx.QueryRowContext(ctx, s.q(`SELECT patient_id FROM visits WHERE id = ?`), a.VisitID).Scan(&owner)
			if err != nil {
				return fmt.Errorf("visit %s: %w", a.VisitID, notFound(err))
			}
			if owner != a.PatientID {
				return fmt.Errorf("visit %s belongs to another patient: %w", a.VisitID, ekbom.ErrInvalid)
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO assessments
	(id, patient_id, visit_id, created_by, created_at, engine_version, knowledge_version, input, plan)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			id, a.PatientID, nullString(a.VisitID), actor, s.timeArg(now),
			a.EngineVersion, a.KnowledgeVersion, string(a.Input), string(a.Plan))
		if err != nil {
			if s.d.IsForeignKeyViolation(err) {
				return fmt.Errorf("patient or visit: %w", ekbom.ErrNotFound)
			}
			return err
		}
		return s.audit(ctx, tx, now, actor, "create", "assessment", id, "patient_id="+a.PatientID)
	})
	if err != nil {
		return fmt.Errorf("sqlstore: create assessment: %w", err)
	}
	a.ID, a.CreatedBy, a.CreatedAt = id, actor, now
	return nil
}

// GetAssessment returns the assessment with the given ID.
func (s *Store) GetAssessment(ctx context.Context, id string) (*ekbom.Assessment, error) {
	row := s.read.QueryRowContext(ctx, s.q(`SELECT `+assessmentCols+` FROM assessments WHERE id = ?`), id)
	a, err := scanAssessment(row)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: get assessment %s: %w", id, notFound(err))
	}
	return a, nil
}

// ListAssessments returns the assessments of a patient, newest first. An
// unknown patient has none.
func (s *Store) ListAssessments(ctx context.Context, patientID string) ([]ekbom.Assessment, error) {
	rows, err := s.read.QueryContext(ctx, s.q(`SELECT `+assessmentCols+` FROM assessments
	WHERE patient_id = ? ORDER BY created_at DESC, id DESC`), patientID)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list assessments of %s: %w", patientID, err)
	}
	defer rows.Close()
	out := []ekbom.Assessment{}
	for rows.Next() {
		a, err := scanAssessment(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list assessments of %s: %w", patientID, err)
		}
		out = append(out, *a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list assessments of %s: %w", patientID, err)
	}
	return out, nil
}
