package config

// NotifyConfig holds the settings of the notify part of the product. Its keys are
// declared in notifyKeys; add a field here and a Key there for each new
// setting.
type NotifyConfig struct{}

func notifyKeys() []Key {
	return nil
}
