// Package prompts is the text of every IVR prompt, per language, and how a
// prompt becomes a media URI Asterisk plays: a pre-rendered file (folder on
// the Asterisk box or this service's HTTP /sounds/), or audio rendered by a
// text-to-speech engine and cached (package tts).
//
// Numbers and challenge digits are never in the catalogue: the IVR plays them
// with Asterisk's own `digits:` and `number:` media in the channel language.
package prompts

import (
	"slices"
	"sort"
)

// ID names one prompt. It is also the file name of its rendered audio.
type ID string

// The prompts.
const (
	WelcomeOnboarding  ID = "welcome-onboarding"
	WelcomeSource      ID = "welcome-source-country"
	WelcomeDestination ID = "welcome-destination-country"
	WelcomeQuota       ID = "welcome-quota"
	WelcomeQuotaOff    ID = "welcome-quota-off"
	WelcomeChange      ID = "welcome-change"
	// Limits that verify instead of refusing, and a destination to confirm.
	WelcomeConcurrent    ID = "welcome-concurrent"
	WelcomeConcurrentOff ID = "welcome-concurrent-off"
	WelcomeConfirm       ID = "welcome-confirm-destination"
	CaptchaIntro         ID = "captcha-intro"
	CaptchaAgain         ID = "captcha-again"
	PINAsk               ID = "pin-ask"
	Verified             ID = "verified"
	WrongEntry           ID = "wrong-entry"
	NoInput              ID = "no-input"
	VerifyFailed         ID = "verify-failed"
	Blocked              ID = "blocked"
	AskConcurrent        ID = "ask-concurrent"
	AskQuota             ID = "ask-quota"
	InvalidAnswer        ID = "invalid-answer"
	ReadConcurrent       ID = "read-concurrent"
	ReadQuota            ID = "read-quota"
	AccountCreated       ID = "account-created"
	CountryAdded         ID = "country-added"
	QuotaRaised          ID = "quota-raised"
	ConcurrentRaised     ID = "concurrent-raised"
	Saved                ID = "saved"
	Redial               ID = "redial"
	TicketInvalid        ID = "ticket-invalid"
	Unavailable          ID = "unavailable"
	Goodbye              ID = "goodbye"
)

// catalogue holds the text of each prompt per language. Every language must
// have every prompt (TestCatalogueComplete).
var catalogue = map[string]map[ID]string{
	"en": {
		WelcomeOnboarding:    "Hello. As this is your first international call, I have to check that you are not a robot.",
		WelcomeSource:        "Hello. You are calling from a country that is new for your account. I have to check that it is really you.",
		WelcomeDestination:   "Hello. You are calling a country that is new for your account. I have to check that it is really you.",
		WelcomeQuota:         "Hello. Your account has reached its daily number of international calls. I can raise it after a short check.",
		WelcomeQuotaOff:      "Hello. Your account has reached its number of international calls outside business hours. I can raise it after a short check.",
		WelcomeChange:        "Change of international call settings.",
		WelcomeConcurrent:    "Hello. Your account has more international calls at the same time than it allows. I can raise the limit after a short check.",
		WelcomeConcurrentOff: "Hello. Your account has more international calls at the same time than it allows outside business hours. I can raise the limit after a short check.",
		WelcomeConfirm:       "Hello. The number you dialled has no international prefix, so I read it as a number abroad. If you meant that country, please confirm that it is you.",
		CaptchaIntro:         "Please type the following digits.",
		CaptchaAgain:         "Let's try again with new digits.",
		PINAsk:               "Please type your four digit PIN, then press the pound key.",
		Verified:             "Thank you. You are verified.",
		WrongEntry:           "That is not correct.",
		NoInput:              "I did not receive any key.",
		VerifyFailed:         "The verification failed. Goodbye.",
		Blocked:              "There were too many failed checks. International calls from your account are blocked for a while. Goodbye.",
		AskConcurrent:        "How many international calls at the same time do you need during business hours? Type one digit.",
		AskQuota:             "How many international calls a day are enough for you? Type up to two digits, then press the pound key.",
		InvalidAnswer:        "That is not a valid answer.",
		ReadConcurrent:       "Calls at the same time:",
		ReadQuota:            "Calls per day:",
		AccountCreated:       "Your account is ready for international calls.",
		CountryAdded:         "This country is now allowed for your account.",
		QuotaRaised:          "Your daily number of calls has been raised.",
		ConcurrentRaised:     "Your number of calls at the same time has been raised.",
		Saved:                "Your settings are saved.",
		Redial:               "Please hang up and dial your number again.",
		TicketInvalid:        "This verification call is not valid or has expired. Please dial your number again. Goodbye.",
		Unavailable:          "Sorry, the service is not available right now. Please try again later. Goodbye.",
		Goodbye:              "Goodbye.",
	},
	"es": {
		WelcomeOnboarding:    "Hola. Como esta es su primera llamada internacional, tengo que comprobar que usted no es un robot.",
		WelcomeSource:        "Hola. Está llamando desde un país nuevo para su cuenta. Tengo que comprobar que es usted.",
		WelcomeDestination:   "Hola. Está llamando a un país nuevo para su cuenta. Tengo que comprobar que es usted.",
		WelcomeQuota:         "Hola. Su cuenta ha alcanzado su número diario de llamadas internacionales. Puedo aumentarlo tras una breve comprobación.",
		WelcomeQuotaOff:      "Hola. Su cuenta ha alcanzado su número de llamadas internacionales fuera del horario laboral. Puedo aumentarlo tras una breve comprobación.",
		WelcomeChange:        "Cambio de la configuración de llamadas internacionales.",
		WelcomeConcurrent:    "Hola. Su cuenta tiene más llamadas internacionales a la vez de las que permite. Puedo aumentar el límite tras una breve comprobación.",
		WelcomeConcurrentOff: "Hola. Su cuenta tiene más llamadas internacionales a la vez de las que permite fuera del horario laboral. Puedo aumentar el límite tras una breve comprobación.",
		WelcomeConfirm:       "Hola. El número marcado no tiene prefijo internacional, así que lo leo como un número del extranjero. Si quería llamar a ese país, confirme que es usted.",
		CaptchaIntro:         "Por favor, marque los siguientes dígitos.",
		CaptchaAgain:         "Probemos de nuevo con otros dígitos.",
		PINAsk:               "Por favor, marque su PIN de cuatro dígitos y luego la tecla almohadilla.",
		Verified:             "Gracias. Su identidad está verificada.",
		WrongEntry:           "No es correcto.",
		NoInput:              "No he recibido ninguna tecla.",
		VerifyFailed:         "La verificación ha fallado. Adiós.",
		Blocked:              "Ha habido demasiadas comprobaciones fallidas. Las llamadas internacionales de su cuenta quedan bloqueadas durante un tiempo. Adiós.",
		AskConcurrent:        "¿Cuántas llamadas internacionales simultáneas necesita en horario laboral? Marque un dígito.",
		AskQuota:             "¿Cuántas llamadas internacionales al día le bastan? Marque hasta dos dígitos y luego la tecla almohadilla.",
		InvalidAnswer:        "Esa respuesta no es válida.",
		ReadConcurrent:       "Llamadas simultáneas:",
		ReadQuota:            "Llamadas al día:",
		AccountCreated:       "Su cuenta está lista para llamadas internacionales.",
		CountryAdded:         "Este país ya está permitido para su cuenta.",
		QuotaRaised:          "Su número diario de llamadas ha aumentado.",
		ConcurrentRaised:     "Su número de llamadas a la vez ha aumentado.",
		Saved:                "Su configuración está guardada.",
		Redial:               "Por favor, cuelgue y vuelva a marcar su número.",
		TicketInvalid:        "Esta llamada de verificación no es válida o ha caducado. Vuelva a marcar su número. Adiós.",
		Unavailable:          "Lo sentimos, el servicio no está disponible ahora. Inténtelo más tarde. Adiós.",
		Goodbye:              "Adiós.",
	},
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
