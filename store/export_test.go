package store

// Unexported functions the external tests call.
var (
	DecisionQuery = decisionQuery
	MS            = ms
)
