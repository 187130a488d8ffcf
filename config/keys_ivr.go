package config

// IVRConfig holds the settings of the ivr part of the product. Its keys are
// declared in ivrKeys; add a field here and a Key there for each new
// setting.
type IVRConfig struct{}

func ivrKeys() []Key {
	return nil
}
