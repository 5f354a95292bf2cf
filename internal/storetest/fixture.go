package storetest

import (
	"time"

	"ekbom"
)

func ptr[T any](v T) *T { return &v }

// SamplePatient returns a realistic visit record as of date d: an older
// woman with chronic kidney disease on pramipexole with augmentation, low
// ferritin, a past gabapentin trial and a rotigotine patch. Every kind of
// field is set, optional ones through pointers, so JSON round trips are
// checked in full. Resolved and Derived are set too; they are not part of
// the stored record (json:"-").
func SamplePatient(d ekbom.Date) ekbom.Patient {
	return ekbom.Patient{
		AsOf:       d,
		Age:        ptr(71),
		Sex:        ekbom.Female,
		WeightKg:   ptr(63.5),
		Pregnancy:  ekbom.NotPregnant,
		Conditions: []ekbom.Condition{ekbom.CKD, ekbom.SleepApneaTreated, ekbom.Depression},
		Labs: []ekbom.Lab{
			{Test: ekbom.Ferritin, Value: 38, Unit: "ng/mL", Date: d.AddDays(-10), Fasting: ptr(true), IronSupplementWithin24h: ptr(false)},
			{Test: ekbom.TSAT, Value: 17.5, Unit: "%", Date: d.AddDays(-10), Derived: true},
			{Test: ekbom.EGFR, Value: 41, Unit: "mL/min/1.73m2", Date: d.AddDays(-30)},
			{Test: ekbom.Hemoglobin, Value: 11.9, Unit: "g/dL", Date: d.AddDays(-10)},
		},
		Medications: []ekbom.Medication{
			{
				Name: "pramipexole", DoseMg: ptr(0.5), TimesPerDay: ptr(1.0), Status: ekbom.Current,
				Outcome: ekbom.Augmented, Start: ptr(day(2019, time.June, 1)),
				Resolved: ekbom.ResolvedMed{Ingredient: "pramipexole", DailyMg: ptr(0.5), Bedtime: true, Display: "pramipexole 0.5 mg"},
			},
			{Sig: "gabapentin 300 mg three times daily", Status: ekbom.Past, Outcome: ekbom.Intolerant,
				Start: ptr(day(2017, time.January, 10)), Stop: ptr(day(2017, time.March, 2))},
			{Name: "rotigotine", DoseMgPer24h: ptr(2.0), Status: ekbom.Past, Outcome: ekbom.Partial},
			{Name: "sertraline", Sig: "sertraline 50 mg daily", TimesPerDay: ptr(0.5)},
		},
		IronInfusions: []ekbom.Infusion{{Date: day(2024, time.September, 12), Product: "ferric carboxymaltose", DoseMg: 750}},
		Symptoms: ekbom.Symptoms{
			IRLSTotal: ptr(31),
			IRLSItems: []int{3, 4, 3, 3, 2, 4, 3, 3, 3, 3},
			Augmentation: &ekbom.AugmentationFeatures{
				EarlierOnset: ptr(true), OnsetAdvanceHours: ptr(3.5), SpreadToOtherBodyParts: ptr(true),
				IncreasedIntensity: ptr(false), WorseAfterDoseIncrease: ptr(true), WorseMostDays: ptr(true),
				PriorPositiveResponse: ptr(true),
			},
			DaytimeSymptoms: ptr(true),
			Hyperarousal:    ptr(false),
		},
		Lifestyle:   ekbom.Lifestyle{AlcoholDrinksPerWeek: ptr(2.0), CaffeineMgPerDay: ptr(150.0), Smoker: ptr(false), SleepHours: ptr(5.5)},
		Preferences: ekbom.Preferences{Declines: []string{"opioid"}},
		Screening:   ekbom.Screening{OpioidRisk: "low", OSAScreen: "positive", PDMPChecked: ptr(true)},
	}
}

// stored returns p as the store gives it back: without the fields that are
// not part of the JSON record (Resolved, Derived).
func stored(p ekbom.Patient) ekbom.Patient {
	p.Labs = append([]ekbom.Lab(nil), p.Labs...)
	for i := range p.Labs {
		p.Labs[i].Derived = false
	}
	p.Medications = append([]ekbom.Medication(nil), p.Medications...)
	for i := range p.Medications {
		p.Medications[i].Resolved = ekbom.ResolvedMed{}
	}
	return p
}
