package config

// EngineConfig holds the settings of the engine part of the product. Its keys are
// declared in engineKeys; add a field here and a Key there for each new
// setting.
type EngineConfig struct{}

func engineKeys() []Key {
	return nil
}
