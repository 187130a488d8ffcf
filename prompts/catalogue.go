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
	// A fraud rule's warning threshold with warning_action verify (V11).
	ExplainRuleWarning ID = "explain-rule-warning"
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
	RuleAllowed      ID = "rule-allowed"
	Saved            ID = "saved"
	// The change of parameters offers the prompt languages: LanguageAsk in
	// the caller's language, then each language's LanguageOption in that
	// language, naming its key (LanguageKey).
	LanguageAsk    ID = "language-ask"
	LanguageOption ID = "language-option"
	Redial         ID = "redial"
	TicketInvalid  ID = "ticket-invalid"
	Unavailable    ID = "unavailable"
	Goodbye        ID = "goodbye"
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
	// LanguageIs is played from the chosen language's own catalogue.
	LanguageIs   ID = "language-is"
	PINNew       ID = "pin-new"
	PINAgain     ID = "pin-again"
	PINMismatch  ID = "pin-mismatch"
	PINSet       ID = "pin-set"
	Suggested    ID = "suggested"
	NoSuggestion ID = "no-suggestion"
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
		ExplainRuleWarning:   "Your account is calling more than usual. This check lets your calls go on.",
		RuleAllowed:          "Your calls may go on like this for a while.",
		Saved:                "Your settings are saved.",
		LanguageAsk:          "You may now choose another language.",
		LanguageOption:       "For English, press 1.",
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
		ExplainRuleWarning:   "Su cuenta está llamando más de lo habitual. Esta comprobación permite que sus llamadas continúen.",
		RuleAllowed:          "Sus llamadas pueden continuar así durante un tiempo.",
		Saved:                "Su configuración está guardada.",
		LanguageAsk:          "Ahora puede elegir otro idioma.",
		LanguageOption:       "Para español, pulse 2.",
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
	// Brazilian Portuguese. Country names need an article after a
	// preposition ("da Alemanha", "do Brasil"), so the country is named on
	// its own: "País de origem das chamadas: Alemanha. É um país novo ...".
	"pt-BR": {
		CodeIntro:            "Olá, digite este código:",
		CodeNew:              "Aqui está um código novo:",
		CodeAgain:            "Novamente:",
		CodeHint:             "Tecle asterisco para ouvir o código novamente.",
		ExplainOnboarding:    "Verificamos isto uma única vez, antes da primeira chamada da sua conta.",
		ExplainSource:        "Você está ligando de um país novo para a sua conta.",
		ExplainDestination:   "Você está ligando para um país novo para a sua conta.",
		ExplainQuota:         "Sua conta atingiu o número de chamadas de hoje. Esta verificação aumenta esse número.",
		ExplainQuotaOff:      "Sua conta atingiu o número de chamadas fora do horário comercial. Esta verificação aumenta esse número.",
		ExplainChange:        "Esta chamada altera as configurações da sua conta.",
		ExplainConcurrent:    "Sua conta tem mais chamadas simultâneas do que o permitido. Esta verificação aumenta o limite.",
		ExplainConcurrentOff: "Sua conta tem mais chamadas simultâneas do que o permitido fora do horário comercial. Esta verificação aumenta o limite.",
		ExplainConfirm:       "O número discado não tem prefixo internacional, por isso é lido como um número do exterior. Esta verificação confirma que você queria ligar para esse país.",
		ExplainRiskyRange:    "O número discado está em uma faixa de números muito usada em fraudes. Esta verificação libera essa faixa para a sua conta.",
		ExplainRangeHopping:  "Sua conta ligou para muitos números diferentes da mesma faixa em pouco tempo. Esta verificação libera mais números dessa faixa.",
		CallsFrom:            "País de origem das chamadas:",
		CallsTo:              "País de destino das chamadas:",
		AreNew:               "É um país novo para a sua conta.",
		Hello:                "Olá.",
		PINAsk:               "Digite sua senha de quatro dígitos e depois tecle jogo da velha.",
		Verified:             "Obrigado. Sua identidade foi verificada.",
		WrongEntry:           "Não está correto.",
		NoInput:              "Não recebi nenhuma tecla.",
		VerifyFailed:         "A verificação falhou. Até logo.",
		Blocked:              "Houve muitas verificações com falha. As chamadas da sua conta estão bloqueadas por algum tempo. Até logo.",
		AskConcurrent:        "De quantas chamadas simultâneas você precisa no horário comercial? Digite um dígito.",
		AskQuota:             "Quantas chamadas por dia são suficientes para você? Digite até dois dígitos e depois tecle jogo da velha.",
		InvalidAnswer:        "Essa resposta não é válida.",
		ReadConcurrent:       "Chamadas simultâneas:",
		ReadQuota:            "Chamadas por dia:",
		AccountCreated:       "Sua conta está pronta.",
		CountryAdded:         "Este país agora está liberado para a sua conta.",
		QuotaRaised:          "Seu número de chamadas foi aumentado.",
		ConcurrentRaised:     "Seu número de chamadas simultâneas foi aumentado.",
		RangeAllowed:         "Os números desta faixa agora estão liberados para a sua conta.",
		RangeRaised:          "Agora você pode ligar para mais números desta faixa.",
		ExplainRuleWarning:   "Sua conta está ligando mais do que o normal. Esta verificação permite que suas chamadas continuem.",
		RuleAllowed:          "Suas chamadas podem continuar assim por um tempo.",
		Saved:                "Suas configurações foram salvas.",
		LanguageAsk:          "Agora você pode escolher outro idioma.",
		LanguageOption:       "Para português, tecle 4.",
		Redial:               "Por favor, desligue e disque o seu número novamente.",
		TicketInvalid:        "Esta chamada de verificação não é válida ou expirou. Disque o seu número novamente. Até logo.",
		Unavailable:          "Desculpe, o serviço não está disponível no momento. Tente novamente mais tarde. Até logo.",
		Goodbye:              "Até logo.",
		MenuConcurrent:       "Para chamadas simultâneas no horário comercial, tecle 1.",
		MenuConcurrentOff:    "Para chamadas simultâneas fora do horário comercial, tecle 2.",
		MenuQuota:            "Para chamadas por dia no horário comercial, tecle 3.",
		MenuQuotaOff:         "Para chamadas por dia fora do horário comercial, tecle 4.",
		MenuLanguage:         "Para mudar o idioma, tecle 5.",
		MenuPIN:              "Para mudar a sua senha, tecle 6.",
		MenuHear:             "Para ouvir as suas configurações e os valores sugeridos, tecle 7.",
		MenuAccept:           "Para aceitar os valores sugeridos, tecle 8.",
		MenuDone:             "Quando terminar, tecle 0 ou jogo da velha.",
		AskConcurrentOff:     "De quantas chamadas simultâneas você precisa fora do horário comercial? Digite um número.",
		AskQuotaOff:          "De quantas chamadas por dia você precisa fora do horário comercial? Digite até dois números e depois jogo da velha.",
		ReadConcurrentOff:    "Chamadas simultâneas fora do horário comercial:",
		ReadQuotaOff:         "Chamadas por dia fora do horário comercial:",
		Confirm:              "Se estiver certo, tecle 1. Se não, tecle 2.",
		LanguageIs:           "O idioma é português.",
		PINNew:               "Digite a sua nova senha de quatro números e depois jogo da velha.",
		PINAgain:             "Digite a nova senha mais uma vez e depois jogo da velha.",
		PINMismatch:          "As duas senhas não são iguais.",
		PINSet:               "A sua nova senha foi salva.",
		Suggested:            "Pelas chamadas da sua conta, sugerimos:",
		NoSuggestion:         "Ainda não há valores sugeridos: a sua conta precisa de mais dias de chamadas.",
		"digit-0":            "zero",
		"digit-1":            "um",
		"digit-2":            "dois",
		"digit-3":            "três",
		"digit-4":            "quatro",
		"digit-5":            "cinco",
		"digit-6":            "seis",
		"digit-7":            "sete",
		"digit-8":            "oito",
		"digit-9":            "nove",
	},
	// French: as in Portuguese, the country is named on its own ("l'Allemagne",
	// "au Brésil" would need its article and preposition).
	"fr": {
		CodeIntro:            "Bonjour, veuillez taper ce code :",
		CodeNew:              "Voici un nouveau code :",
		CodeAgain:            "Je répète :",
		CodeHint:             "Appuyez sur étoile pour réécouter le code.",
		ExplainOnboarding:    "Nous le vérifions une seule fois, avant le premier appel de votre compte.",
		ExplainSource:        "Vous appelez depuis un pays nouveau pour votre compte.",
		ExplainDestination:   "Vous appelez un pays nouveau pour votre compte.",
		ExplainQuota:         "Votre compte a atteint son nombre d'appels pour aujourd'hui. Cette vérification l'augmente.",
		ExplainQuotaOff:      "Votre compte a atteint son nombre d'appels en dehors des heures ouvrées. Cette vérification l'augmente.",
		ExplainChange:        "Cet appel modifie les réglages de votre compte.",
		ExplainConcurrent:    "Votre compte a plus d'appels simultanés qu'il n'en autorise. Cette vérification relève la limite.",
		ExplainConcurrentOff: "Votre compte a plus d'appels simultanés qu'il n'en autorise en dehors des heures ouvrées. Cette vérification relève la limite.",
		ExplainConfirm:       "Le numéro composé n'a pas d'indicatif international, il est donc lu comme un numéro à l'étranger. Cette vérification confirme que vous vouliez appeler ce pays.",
		ExplainRiskyRange:    "Le numéro composé fait partie d'une tranche de numéros souvent utilisée pour la fraude. Cette vérification autorise cette tranche pour votre compte.",
		ExplainRangeHopping:  "Votre compte a appelé beaucoup de numéros différents de la même tranche en peu de temps. Cette vérification en autorise davantage.",
		CallsFrom:            "Pays d'origine des appels :",
		CallsTo:              "Pays de destination des appels :",
		AreNew:               "C'est un nouveau pays pour votre compte.",
		Hello:                "Bonjour.",
		PINAsk:               "Veuillez taper votre code PIN à quatre chiffres, puis la touche dièse.",
		Verified:             "Merci. Votre identité est vérifiée.",
		WrongEntry:           "Ce n'est pas correct.",
		NoInput:              "Je n'ai reçu aucune touche.",
		VerifyFailed:         "La vérification a échoué. Au revoir.",
		Blocked:              "Il y a eu trop de vérifications échouées. Les appels de votre compte sont bloqués pour un moment. Au revoir.",
		AskConcurrent:        "De combien d'appels simultanés avez-vous besoin pendant les heures ouvrées ? Tapez un chiffre.",
		AskQuota:             "Combien d'appels par jour vous suffisent ? Tapez jusqu'à deux chiffres, puis la touche dièse.",
		InvalidAnswer:        "Cette réponse n'est pas valide.",
		ReadConcurrent:       "Appels simultanés :",
		ReadQuota:            "Appels par jour :",
		AccountCreated:       "Votre compte est prêt.",
		CountryAdded:         "Ce pays est désormais autorisé pour votre compte.",
		QuotaRaised:          "Votre nombre d'appels a été augmenté.",
		ConcurrentRaised:     "Votre nombre d'appels simultanés a été augmenté.",
		RangeAllowed:         "Les numéros de cette tranche sont désormais autorisés pour votre compte.",
		RangeRaised:          "Vous pouvez désormais appeler davantage de numéros de cette tranche.",
		ExplainRuleWarning:   "Votre compte appelle plus que d'habitude. Cette vérification permet à vos appels de continuer.",
		RuleAllowed:          "Vos appels peuvent continuer ainsi pendant un moment.",
		Saved:                "Vos réglages sont enregistrés.",
		LanguageAsk:          "Vous pouvez maintenant choisir une autre langue.",
		LanguageOption:       "Pour le français, appuyez sur 3.",
		Redial:               "Veuillez raccrocher et composer de nouveau votre numéro.",
		TicketInvalid:        "Cet appel de vérification n'est pas valide ou a expiré. Veuillez recomposer votre numéro. Au revoir.",
		Unavailable:          "Désolé, le service n'est pas disponible pour le moment. Veuillez réessayer plus tard. Au revoir.",
		Goodbye:              "Au revoir.",
		MenuConcurrent:       "Pour les appels simultanés pendant les heures de bureau, appuyez sur 1.",
		MenuConcurrentOff:    "Pour les appels simultanés en dehors des heures de bureau, appuyez sur 2.",
		MenuQuota:            "Pour les appels par jour pendant les heures de bureau, appuyez sur 3.",
		MenuQuotaOff:         "Pour les appels par jour en dehors des heures de bureau, appuyez sur 4.",
		MenuLanguage:         "Pour changer de langue, appuyez sur 5.",
		MenuPIN:              "Pour changer votre code PIN, appuyez sur 6.",
		MenuHear:             "Pour entendre vos réglages et les valeurs suggérées, appuyez sur 7.",
		MenuAccept:           "Pour accepter les valeurs suggérées, appuyez sur 8.",
		MenuDone:             "Quand vous avez terminé, appuyez sur 0 ou sur la touche dièse.",
		AskConcurrentOff:     "Combien d'appels simultanés vous faut-il en dehors des heures de bureau ? Tapez un chiffre.",
		AskQuotaOff:          "Combien d'appels par jour vous faut-il en dehors des heures de bureau ? Tapez au plus deux chiffres, puis la touche dièse.",
		ReadConcurrentOff:    "Appels simultanés en dehors des heures de bureau :",
		ReadQuotaOff:         "Appels par jour en dehors des heures de bureau :",
		Confirm:              "Si c'est correct, appuyez sur 1. Sinon, appuyez sur 2.",
		LanguageIs:           "La langue est le français.",
		PINNew:               "Tapez votre nouveau code PIN à quatre chiffres, puis la touche dièse.",
		PINAgain:             "Tapez encore une fois le nouveau code PIN, puis la touche dièse.",
		PINMismatch:          "Les deux codes PIN ne sont pas identiques.",
		PINSet:               "Votre nouveau code PIN est enregistré.",
		Suggested:            "D'après les appels de votre compte, nous suggérons :",
		NoSuggestion:         "Il n'y a pas encore de valeurs suggérées : votre compte a besoin de plus de jours d'appels.",
		"digit-0":            "zéro",
		"digit-1":            "un",
		"digit-2":            "deux",
		"digit-3":            "trois",
		"digit-4":            "quatre",
		"digit-5":            "cinq",
		"digit-6":            "six",
		"digit-7":            "sept",
		"digit-8":            "huit",
		"digit-9":            "neuf",
	},
}

// countryNames are the display languages of the country names, per
// catalogue language.
var countryNames = map[string]display.Namer{
	"en":    display.English.Regions(),
	"es":    display.Spanish.Regions(),
	"pt-BR": display.BrazilianPortuguese.Regions(),
	"fr":    display.French.Regions(),
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

// LanguageKey is the key that chooses lang in the language menu: its place
// in Languages, from 1 (en 1, es 2, fr 3, pt-BR 4); 0 for none.
func LanguageKey(lang string) int {
	return slices.Index(Languages(), lang) + 1
}

// LanguageOfKey is the language the menu key typed chooses.
func LanguageOfKey(typed string) (string, bool) {
	langs := Languages()
	if len(typed) != 1 || typed[0] < '1' || int(typed[0]-'0') > len(langs) {
		return "", false
	}
	return langs[typed[0]-'1'], true
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

// HasLanguage reports whether lang has a catalogue. The languages are BCP 47
// tags spelt as Languages returns them ("pt-BR"); Language accepts other
// spellings.
func HasLanguage(lang string) bool { _, ok := catalogue[lang]; return ok }

// Language returns the catalogue language lang names, ignoring case and
// taking Asterisk's underscore for the hyphen ("pt_br", "PT-BR": "pt-BR").
func Language(lang string) (string, bool) {
	want := strings.ReplaceAll(lang, "_", "-")
	for l := range catalogue {
		if strings.EqualFold(l, want) {
			return l, true
		}
	}
	return "", false
}

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
