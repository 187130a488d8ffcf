package tfps

// DayStats are one account's calls of one local date (in the account's
// business-hours time zone), as the decision-log writer counts them: in
// business hours and off hours apart. A monitor-mode call counts as
// approved, since the caller was put through.
type DayStats struct {
	Date        string `json:"date"` // YYYY-MM-DD
	Approved    int    `json:"approved"`
	ApprovedOff int    `json:"approved_off"`
	Rejected    int    `json:"rejected"`
	RejectedOff int    `json:"rejected_off"`
	Verified    int    `json:"verified"`
	VerifiedOff int    `json:"verified_off"`
	// Peak and PeakOff are the most concurrent calls the PBX reported on
	// an approved call of the day, in and off hours.
	Peak    int `json:"peak"`
	PeakOff int `json:"peak_off"`
	// Countries seen on approved calls of the day.
	SourceCountries      []string `json:"source_countries,omitempty"`
	DestinationCountries []string `json:"destination_countries,omitempty"`
}
