package engine

// usedRules lists every knowledge-base rule the engine can emit. New checks
// they exist; TestRuleIDsListed checks this list against the source.
var usedRules = []string{
	"iron.test_panel", "iron.test_tsat", "iron.retest", "iron.overload_no_iron",
	"iron.stop_iron_overload", "iron.start_oral", "iron.start_iv_fcm", "iron.iv_only_75_100",
	"iron.consider_fcm_below_300", "iron.redose_iv", "iron.wait_after_infusion",
	"iron.check_phosphate", "iron.test_crp", "iron.esrd_iv_sucrose", "iron.pregnancy_oral",
	"iron.pregnancy_iv",
	"exacerbators.stop_drug", "exacerbators.switch_drug", "exacerbators.review_drug",
	"exacerbators.treat_osa", "exacerbators.evaluate_osa", "exacerbators.alcohol",
	"exacerbators.caffeine", "exacerbators.nicotine", "exacerbators.sleep",
	"augmentation.no_increase", "augmentation.rule_out_triggers", "augmentation.add_alpha2delta",
	"augmentation.add_opioid", "augmentation.mild_options", "augmentation.taper",
	"augmentation.bridge", "augmentation.plan_switch", "augmentation.alternative_alpha2delta",
	"alpha2delta.start", "alpha2delta.optimize", "alpha2delta.divide", "alpha2delta.reduce_renal",
	"alpha2delta.continue", "alpha2delta.switch_agent", "alpha2delta.test_renal", "alpha2delta.esrd_start", "alpha2delta.esrd_prefer_gabapentin",
	"second_line.dipyridamole",
	"opioids.start_oxycodone", "opioids.start_methadone", "opioids.defer_osa", "opioids.screening",
	"opioids.naloxone", "opioids.bowel", "opioids.continue", "opioids.above_range",
	"opioids.methadone_ecg", "opioids.benzo_taper", "opioids.use_disorder", "opioids.high_risk",
	"non_drug.tomac", "non_drug.measures",
	"special.esrd_vitamin_c", "special.esrd_caution", "special.pregnancy", "special.pregnancy_clonazepam",
	"special.pregnancy_oxycodone", "special.lactation_gabapentin", "special.pregnancy_stop_da", "special.elderly",
	"warn.respiratory_depression", "warn.augmentation_met", "warn.augmentation_suspected", "warn.abrupt_stop",
	"warn.iron_overload", "warn.renal_dosing", "warn.pregnancy", "warn.falls_sedation",
	"warn.opioid_use_disorder", "warn.stale_iron", "warn.ferritin_confounded",
	"finding.iron_overload", "finding.iron_deficient", "finding.iron_borderline", "finding.iron_optimized",
	"finding.iron_unknown", "finding.iron_declined", "finding.iron_infusion_pending",
	"finding.esrd_iron_not_indicated", "finding.crcl", "finding.exacerbators", "finding.augmentation_met",
	"finding.augmentation_suspected", "finding.da_above_max", "finding.augmentation_history",
	"finding.on_dopaminergic", "finding.a2d_failed", "finding.a2d_inadequate", "finding.a2d_intolerant",
	"finding.a2d_declined", "finding.a2d_unknown_dose", "finding.opioids_declined", "finding.opioids_deferred",
	"finding.opioids_blocked", "finding.mme", "finding.hyperarousal", "finding.recent_change",
	"status.iron", "status.iron_unknown", "status.a2d_not_tried", "status.a2d_unknown", "status.exacerbators",
	"status.recent_change", "status.severity_unknown", "status.controlled", "status.refractory",
	"status.augmentation",
}

// usedMonitors lists the monitoring intervals the engine uses.
var usedMonitors = []string{
	"irls_after_change", "irls_baseline", "irls_routine", "ferritin_after_infusion",
	"iron_panel_routine", "iron_panel_after_oral", "phosphate_before_repeat_fcm",
	"augmentation_screen", "opioid_review_start", "opioid_review_maintenance",
	"renal_function_check", "sleep_apnea_evaluation",
}
