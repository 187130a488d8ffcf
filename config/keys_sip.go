package config

// SIPConfig holds the settings of the sip part of the product. Its keys are
// declared in sipKeys; add a field here and a Key there for each new
// setting.
type SIPConfig struct{}

func sipKeys() []Key {
	return nil
}
