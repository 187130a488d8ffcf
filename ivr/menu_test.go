package ivr

import (
	"strings"
	"testing"

	"github.com/voipshield/tfps/prompts"
)

// The menu's prompts say its keys: a caller who hears "press 3" must get
// what entry 3 does, in every language of the catalogue.
func TestChangeMenuPromptsNameTheirKeys(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range changeMenu {
		if seen[e.key] {
			t.Errorf("key %q is in the menu twice", e.key)
		}
		seen[e.key] = true
		if e.prompt == "" {
			continue
		}
		for _, lang := range prompts.Languages() {
			text, ok := prompts.Text(lang, e.prompt)
			if !ok || !strings.Contains(text, e.key) {
				t.Errorf("%s/%s %q does not name key %s", lang, e.prompt, text, e.key)
			}
		}
	}
	for _, k := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "0", "#"} {
		if !seen[k] {
			t.Errorf("key %s missing from the menu", k)
		}
	}
}
