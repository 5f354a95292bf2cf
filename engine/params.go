package engine

import (
	"fmt"

	"ekbom/kb"
)

// params are the knowledge-base thresholds the engine uses, read once by New.
type params struct {
	ferritinStartMax, tsatLow, ferritinIVOnlyMax   float64
	ferritinOverload, tsatOverload, ferritinFCMMax float64
	esrdFerritinMax, esrdTSATMax                   float64
	pregOralFerritinMax, pregIVFerritinMax         float64
	testMaxAgeDays, ivJudgeDays                    int
	postInfFirstDays, postInfIntervalDays          int
	postInfCount                                   int
	risePer100Low, risePer100High                  float64
	oralTrialDays                                  int
	ivPreferredIRLS                                int
	fcmPhosphateDays                               int
	routineIronDays, oralRecheckDays               int
	crpHigh                                        float64
	elderlyAge                                     int
	crclReduced                                    float64
	irlsMild, irlsModerate, irlsSevere, irlsVery   int
	tomacIRLS                                      int
	onsetC1, onsetC2, severeHours, verySevereHours float64
	taperStepPPX                                   float64
	taperStepDays, taperStartDays                  int
	a2dMinTrialDays                                int
	alcoholMax, caffeineMax, sleepMin              float64
	naloxoneMME                                    float64
	recentDays                                     int
}

func loadParams(b *kb.Base) (params, error) {
	var missing []string
	f := func(id string) float64 {
		t, ok := b.Threshold(id)
		if !ok {
			missing = append(missing, id)
			return 0
		}
		return t.Value
	}
	i := func(id string) int { return int(f(id)) }
	p := params{
		ferritinStartMax:    f("iron.ferritin_start_max"),
		tsatLow:             f("iron.tsat_low"),
		ferritinIVOnlyMax:   f("iron.ferritin_iv_only_max"),
		ferritinOverload:    f("iron.ferritin_overload"),
		tsatOverload:        f("iron.tsat_overload"),
		ferritinFCMMax:      f("iron.ferritin_fcm_max"),
		esrdFerritinMax:     f("iron.esrd_ferritin_max"),
		esrdTSATMax:         f("iron.esrd_tsat_max"),
		pregOralFerritinMax: f("iron.pregnancy_oral_ferritin_max"),
		pregIVFerritinMax:   f("iron.pregnancy_iv_ferritin_max"),
		testMaxAgeDays:      i("iron.test_max_age_days"),
		ivJudgeDays:         i("iron.iv_judge_after_days"),
		postInfFirstDays:    i("iron.postinfusion_first_check_days"),
		postInfIntervalDays: i("iron.postinfusion_check_interval_days"),
		postInfCount:        i("iron.postinfusion_check_count"),
		risePer100Low:       f("iron.ferritin_rise_per_100mg_low"),
		risePer100High:      f("iron.ferritin_rise_per_100mg_high"),
		oralTrialDays:       i("iron.oral_trial_days"),
		ivPreferredIRLS:     i("iron.iv_preferred_irls"),
		fcmPhosphateDays:    i("iron.fcm_phosphate_window_days"),
		routineIronDays:     i("iron.routine_recheck_days"),
		oralRecheckDays:     i("iron.oral_recheck_days"),
		crpHigh:             f("inflammation.crp_high"),
		elderlyAge:          i("age.elderly"),
		crclReduced:         f("renal.crcl_reduced"),
		irlsMild:            i("irls.mild_min"),
		irlsModerate:        i("irls.moderate_min"),
		irlsSevere:          i("irls.severe_min"),
		irlsVery:            i("irls.very_severe_min"),
		tomacIRLS:           i("tomac.irls_min"),
		onsetC1:             f("augmentation.onset_c1_hours"),
		onsetC2:             f("augmentation.onset_c2_hours"),
		severeHours:         f("augmentation.severe_hours"),
		verySevereHours:     f("augmentation.very_severe_hours"),
		taperStepPPX:        f("augmentation.taper_step_ppx_mg"),
		taperStepDays:       i("augmentation.taper_step_days"),
		taperStartDays:      i("augmentation.taper_start_after_days"),
		a2dMinTrialDays:     i("alpha2delta.min_trial_days"),
		alcoholMax:          f("lifestyle.alcohol_drinks_per_week_max"),
		caffeineMax:         f("lifestyle.caffeine_mg_per_day_max"),
		sleepMin:            f("lifestyle.sleep_hours_min"),
		naloxoneMME:         f("opioid.naloxone_mme"),
		recentDays:          i("change.recent_days"),
	}
	if len(missing) > 0 {
		return p, fmt.Errorf("engine: knowledge base lacks thresholds %v", missing)
	}
	return p, nil
}
