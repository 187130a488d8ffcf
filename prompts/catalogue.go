// Package prompts is the text of every IVR prompt, per language, and how a
// prompt becomes a media URI Asterisk plays: a pre-rendered file (folder on
// the Asterisk box or this service's HTTP /sounds/), or audio rendered by a
// text-to-speech engine and cached (package tts).
//
// The challenge digits are prompts too (digit-0 ... digit-9), rendered in the
// same voice and at the same level as the sentences, so a caller hears one
// voice. Numbers read back by the onboarding questions still use Asterisk's
// own `number:` media in the channel language.
package prompts

import (
	"slices"
	"sort"
	"strings"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// ID names one prompt. It is also the file name of its rendered audio.
type ID string

// The prompts.
const (
	// Before a code: the one-sentence greeting, or the new code of a
	// later try; CodeAgain sits between the two readings of the code.
	CodeIntro ID = "code-intro"
	CodeNew   ID = "code-new"
	CodeAgain ID = "code-again"
	// CodeHint follows the explanation: how to hear the code again.
	CodeHint ID = "code-hint"
	// Why the call is checked, per flow: played after the code, while the
	// caller may already type.
	ExplainOnboarding  ID = "explain-onboarding"
	ExplainSource      ID = "explain-source-country"
	ExplainDestination ID = "explain-destination-country"
	ExplainQuota       ID = "explain-quota"
	ExplainQuotaOff    ID = "explain-quota-off"
	ExplainChange      ID = "explain-change"
	// Limits that verify instead of refusing, and a destination to confirm.
	ExplainConcurrent    ID = "explain-concurrent"
	ExplainConcurrentOff ID = "explain-concurrent-off"
	ExplainConfirm       ID = "explain-confirm-destination"
	// High-risk number ranges: a range the operator marked (V06), many
	// numbers of one range (V07).
	ExplainRiskyRange   ID = "explain-risky-range"
	ExplainRangeHopping ID = "explain-range-hopping"
	// A named country: CallsFrom/CallsTo, Country(cc), AreNew ("Calls to
	// Germany are new for your account.").
	CallsFrom        ID = "calls-from"
	CallsTo          ID = "calls-to"
	AreNew           ID = "are-new"
	Hello            ID = "hello"
	PINAsk           ID = "pin-ask"
	Verified         ID = "verified"
	WrongEntry       ID = "wrong-entry"
	NoInput          ID = "no-input"
	VerifyFailed     ID = "verify-failed"
	Blocked          ID = "blocked"
	AskConcurrent    ID = "ask-concurrent"
	AskQuota         ID = "ask-quota"
	InvalidAnswer    ID = "invalid-answer"
	ReadConcurrent   ID = "read-concurrent"
	ReadQuota        ID = "read-quota"
	AccountCreated   ID = "account-created"
	CountryAdded     ID = "country-added"
	QuotaRaised      ID = "quota-raised"
	ConcurrentRaised ID = "concurrent-raised"
	RangeAllowed     ID = "range-allowed"
	RangeRaised      ID = "range-raised"
	Saved            ID = "saved"
	Redial           ID = "redial"
	TicketInvalid    ID = "ticket-invalid"
	Unavailable      ID = "unavailable"
	Goodbye          ID = "goodbye"
	// The change-of-parameters menu (one prompt per choice), its questions,
	// read-backs and confirmation, and the PIN the caller sets.
	MenuConcurrent    ID = "menu-concurrent"
	MenuConcurrentOff ID = "menu-concurrent-off"
	MenuQuota         ID = "menu-quota"
	MenuQuotaOff      ID = "menu-quota-off"
	MenuLanguage      ID = "menu-language"
	MenuPIN           ID = "menu-pin"
	MenuHear          ID = "menu-hear"
	MenuAccept        ID = "menu-accept"
	MenuDone          ID = "menu-done"
	AskConcurrentOff  ID = "ask-concurrent-off"
	AskQuotaOff       ID = "ask-quota-off"
	ReadConcurrentOff ID = "read-concurrent-off"
	ReadQuotaOff      ID = "read-quota-off"
	Confirm           ID = "confirm"
	// LanguageChoice is played from each language's own catalogue ("For
	// English, press", then that language's digit); LanguageIs too.
	LanguageChoice ID = "language-choice"
	LanguageIs     ID = "language-is"
	PINNew         ID = "pin-new"
	PINAgain       ID = "pin-again"
	PINMismatch    ID = "pin-mismatch"
	PINSet         ID = "pin-set"
	Suggested      ID = "suggested"
	NoSuggestion   ID = "no-suggestion"
)

// Country is the prompt that names a country (ISO 3166 alpha-2, any case):
// every region a phone number can belong to has one, in every language.
func Country(cc string) ID { return ID("country-" + strings.ToLower(cc)) }

// Digit is the prompt that speaks one decimal digit ('0'..'9').
func Digit(d byte) ID { return ID("digit-" + string(rune(d))) }

// catalogue holds the text of each prompt per language. Every language must
// have every prompt (TestCatalogueComplete).
var catalogue = map[string]map[ID]string{
	"en": {
		CodeIntro:            "Hello, please type this code:",
		CodeNew:              "Here is a new code:",
		CodeAgain:            "Again:",
		CodeHint:             "Press star to hear the code again.",
		ExplainOnboarding:    "We check this once, before the first call of your account.",
		ExplainSource:        "You are calling from a country that is new for your account.",
		ExplainDestination:   "You are calling a country that is new for your account.",
		ExplainQuota:         "Your account has reached its number of calls for today. This check raises it.",
		ExplainQuotaOff:      "Your account has reached its number of calls outside business hours. This check raises it.",
		ExplainChange:        "This call changes the settings of your account.",
		ExplainConcurrent:    "Your account has more calls at the same time than it allows. This check raises the limit.",
		ExplainConcurrentOff: "Your account has more calls at the same time than it allows outside business hours. This check raises the limit.",
		ExplainConfirm:       "The number you dialled has no international prefix, so it is read as a number abroad. This check confirms you meant that country.",
		ExplainRiskyRange:    "The number you dialled is in a range of numbers often used for fraud. This check allows that range for your account.",
		ExplainRangeHopping:  "Your account has called many different numbers of the same range in a short time. This check allows more of them.",
		CallsFrom:            "Calls from",
		CallsTo:              "Calls to",
		AreNew:               "are new for your account.",
		Hello:                "Hello.",
		PINAsk:               "Please type your four digit PIN, then press the pound key.",
		Verified:             "Thank you. You are verified.",
		WrongEntry:           "That is not correct.",
		NoInput:              "I did not receive any key.",
		VerifyFailed:         "The verification failed. Goodbye.",
		Blocked:              "There were too many failed checks. Calls from your account are blocked for a while. Goodbye.",
		AskConcurrent:        "How many calls at the same time do you need during business hours? Type one digit.",
		AskQuota:             "How many calls a day are enough for you? Type up to two digits, then press the pound key.",
		InvalidAnswer:        "That is not a valid answer.",
		ReadConcurrent:       "Calls at the same time:",
		ReadQuota:            "Calls per day:",
		AccountCreated:       "Your account is ready.",
		CountryAdded:         "This country is now allowed for your account.",
		QuotaRaised:          "Your number of calls has been raised.",
		ConcurrentRaised:     "Your number of calls at the same time has been raised.",
		RangeAllowed:         "Numbers of this range are now allowed for your account.",
		RangeRaised:          "You may now call more numbers of this range.",
		Saved:                "Your settings are saved.",
		Redial:               "Please hang up and dial your number again.",
		TicketInvalid:        "This verification call is not valid or has expired. Please dial your number again. Goodbye.",
		Unavailable:          "Sorry, the service is not available right now. Please try again later. Goodbye.",
		Goodbye:              "Goodbye.",
		MenuConcurrent:       "For calls at the same time during business hours, press 1.",
		MenuConcurrentOff:    "For calls at the same time outside business hours, press 2.",
		MenuQuota:            "For calls per day during business hours, press 3.",
		MenuQuotaOff:         "For calls per day outside business hours, press 4.",
		MenuLanguage:         "To change the language, press 5.",
		MenuPIN:              "To change your PIN, press 6.",
		MenuHear:             "To hear your settings and the suggested values, press 7.",
		MenuAccept:           "To accept the suggested values, press 8.",
		MenuDone:             "When you are done, press 0 or the pound key.",
		AskConcurrentOff:     "How many calls at the same time do you need outside business hours? Type one digit.",
		AskQuotaOff:          "How many calls a day do you need outside business hours? Type up to two digits, then press the pound key.",
		ReadConcurrentOff:    "Calls at the same time outside business hours:",
		ReadQuotaOff:         "Calls per day outside business hours:",
		Confirm:              "If this is right, press 1. If not, press 2.",
		LanguageChoice:       "For English, press",
		LanguageIs:           "The language is English.",
		PINNew:               "Please type your new four digit PIN, then press the pound key.",
		PINAgain:             "Please type the new PIN again, then press the pound key.",
		PINMismatch:          "The two PINs are not the same.",
		PINSet:               "Your new PIN is set.",
		Suggested:            "From the calls of your account, we suggest:",
		NoSuggestion:         "There are no suggested values yet: your account needs more days of calls.",
		"digit-0":            "zero",
		"digit-1":            "one",
		"digit-2":            "two",
		"digit-3":            "three",
		"digit-4":            "four",
		"digit-5":            "five",
		"digit-6":            "six",
		"digit-7":            "seven",
		"digit-8":            "eight",
		"digit-9":            "nine",
	},
	"es": {
		CodeIntro:            "Hola, marque este código:",
		CodeNew:              "Aquí tiene un código nuevo:",
		CodeAgain:            "Otra vez:",
		CodeHint:             "Pulse asterisco para oír el código otra vez.",
		ExplainOnboarding:    "Lo comprobamos una vez, antes de la primera llamada de su cuenta.",
		ExplainSource:        "Está llamando desde un país nuevo para su cuenta.",
		ExplainDestination:   "Está llamando a un país nuevo para su cuenta.",
		ExplainQuota:         "Su cuenta ha alcanzado su número de llamadas de hoy. Esta comprobación lo aumenta.",
		ExplainQuotaOff:      "Su cuenta ha alcanzado su número de llamadas fuera del horario laboral. Esta comprobación lo aumenta.",
		ExplainChange:        "Esta llamada cambia la configuración de su cuenta.",
		ExplainConcurrent:    "Su cuenta tiene más llamadas a la vez de las que permite. Esta comprobación aumenta el límite.",
		ExplainConcurrentOff: "Su cuenta tiene más llamadas a la vez de las que permite fuera del horario laboral. Esta comprobación aumenta el límite.",
		ExplainConfirm:       "El número marcado no tiene prefijo internacional, así que se lee como un número del extranjero. Esta comprobación confirma que quería llamar a ese país.",
		ExplainRiskyRange:    "El número marcado está en un rango de números que se usa a menudo para el fraude. Esta comprobación permite ese rango para su cuenta.",
		ExplainRangeHopping:  "Su cuenta ha llamado a muchos números distintos del mismo rango en poco tiempo. Esta comprobación le permite llamar a más.",
		CallsFrom:            "Las llamadas desde",
		CallsTo:              "Las llamadas a",
		AreNew:               "son nuevas para su cuenta.",
		Hello:                "Hola.",
		PINAsk:               "Marque su PIN de cuatro dígitos y luego la tecla almohadilla.",
		Verified:             "Gracias. Su identidad está verificada.",
		WrongEntry:           "No es correcto.",
		NoInput:              "No he recibido ninguna tecla.",
		VerifyFailed:         "La verificación ha fallado. Adiós.",
		Blocked:              "Ha habido demasiadas comprobaciones fallidas. Las llamadas de su cuenta quedan bloqueadas durante un tiempo. Adiós.",
		AskConcurrent:        "¿Cuántas llamadas simultáneas necesita en horario laboral? Marque un dígito.",
		AskQuota:             "¿Cuántas llamadas al día le bastan? Marque hasta dos dígitos y luego la tecla almohadilla.",
		InvalidAnswer:        "Esa respuesta no es válida.",
		ReadConcurrent:       "Llamadas simultáneas:",
		ReadQuota:            "Llamadas al día:",
		AccountCreated:       "Su cuenta está lista.",
		CountryAdded:         "Este país ya está permitido para su cuenta.",
		QuotaRaised:          "Su número de llamadas ha aumentado.",
		ConcurrentRaised:     "Su número de llamadas a la vez ha aumentado.",
		RangeAllowed:         "Los números de este rango ya están permitidos para su cuenta.",
		RangeRaised:          "Ya puede llamar a más números de este rango.",
		Saved:                "Su configuración está guardada.",
		Redial:               "Por favor, cuelgue y vuelva a marcar su número.",
		TicketInvalid:        "Esta llamada de verificación no es válida o ha caducado. Vuelva a marcar su número. Adiós.",
		Unavailable:          "Lo sentimos, el servicio no está disponible ahora. Inténtelo más tarde. Adiós.",
		Goodbye:              "Adiós.",
		MenuConcurrent:       "Para las llamadas simultáneas en horario laboral, pulse 1.",
		MenuConcurrentOff:    "Para las llamadas simultáneas fuera del horario laboral, pulse 2.",
		MenuQuota:            "Para las llamadas al día en horario laboral, pulse 3.",
		MenuQuotaOff:         "Para las llamadas al día fuera del horario laboral, pulse 4.",
		MenuLanguage:         "Para cambiar el idioma, pulse 5.",
		MenuPIN:              "Para cambiar su PIN, pulse 6.",
		MenuHear:             "Para escuchar su configuración y los valores sugeridos, pulse 7.",
		MenuAccept:           "Para aceptar los valores sugeridos, pulse 8.",
		MenuDone:             "Cuando termine, pulse 0 o la tecla almohadilla.",
		AskConcurrentOff:     "¿Cuántas llamadas simultáneas necesita fuera del horario laboral? Marque un dígito.",
		AskQuotaOff:          "¿Cuántas llamadas al día necesita fuera del horario laboral? Marque hasta dos dígitos y luego la tecla almohadilla.",
		ReadConcurrentOff:    "Llamadas simultáneas fuera del horario laboral:",
		ReadQuotaOff:         "Llamadas al día fuera del horario laboral:",
		Confirm:              "Si es correcto, pulse 1. Si no, pulse 2.",
		LanguageChoice:       "Para español, pulse",
		LanguageIs:           "El idioma es español.",
		PINNew:               "Marque su nuevo PIN de cuatro dígitos y luego la tecla almohadilla.",
		PINAgain:             "Marque otra vez el nuevo PIN y luego la tecla almohadilla.",
		PINMismatch:          "Los dos PIN no coinciden.",
		PINSet:               "Su nuevo PIN está configurado.",
		Suggested:            "Según las llamadas de su cuenta, le sugerimos:",
		NoSuggestion:         "Todavía no hay valores sugeridos: su cuenta necesita más días de llamadas.",
		"digit-0":            "cero",
		"digit-1":            "uno",
		"digit-2":            "dos",
		"digit-3":            "tres",
		"digit-4":            "cuatro",
		"digit-5":            "cinco",
		"digit-6":            "seis",
		"digit-7":            "siete",
		"digit-8":            "ocho",
		"digit-9":            "nueve",
	},
}

// countryNames are the display languages of the country names, per
// catalogue language.
var countryNames = map[string]display.Namer{
	"en": display.English.Regions(),
	"es": display.Spanish.Regions(),
}

// The catalogue names every region phone numbers know (numbering reads a
// destination country from them) in each language, from CLDR.
func init() {
	for lang, namer := range countryNames {
		for cc := range phonenumbers.GetSupportedRegions() {
			if r, err := language.ParseRegion(cc); err == nil {
				if name := namer.Name(r); name != "" {
					catalogue[lang][Country(cc)] = name
				}
			}
		}
	}
}

// Languages returns the catalogue's languages, sorted.
func Languages() []string {
	var out []string
	for l := range catalogue {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// HasLanguage reports whether lang has a catalogue.
func HasLanguage(lang string) bool { _, ok := catalogue[lang]; return ok }

// IDs returns every prompt ID, sorted.
func IDs() []ID {
	var out []ID
	for id := range catalogue["en"] {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// Text returns the text of prompt id in lang.
func Text(lang string, id ID) (string, bool) {
	t, ok := catalogue[lang][id]
	return t, ok
}
