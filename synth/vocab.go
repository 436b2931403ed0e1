package synth

// The dialogue world: three domains (hospital reception, pharmacy, service counter),
// four topics each, word categories that fill sentence templates, and the groups of
// near-identical signs whose member the topic makes likelier.
//
// Entries are written "GLOSS=english text"; a template's {category} slot takes a
// gloss from the category and its text. Glosses are upper case, words joined with '-'.

// domainSpec is one setting of the kiosk.
type domainSpec struct {
	name      string
	greetings []string // hearing turn 0, domain only
	closings  []string // last hearing turn
	topics    []topicSpec
	templates []string // signer sentence templates: "GLOSSES | text"
}

// topicSpec is what one dialogue is about. Its lines are what the hearing person says;
// they show the topic in words without naming any member of a sign group.
type topicSpec struct {
	name  string
	lines []string
}

var domains = []domainSpec{
	{
		name: "reception",
		greetings: []string{
			"Good morning, this is the hospital reception. How can I help you?",
			"Hello, welcome to the front desk of the hospital.",
			"Hi, you are at the patient reception. What brings you here?",
		},
		closings: []string{
			"All right, please take a seat in the waiting area.",
			"You are all set. Someone will call your name soon.",
			"Thank you, we will take care of it. Have a good day.",
		},
		topics: []topicSpec{
			{"reception/appointment", []string{
				"Do you want to book a new appointment or change one?",
				"The clinic has free slots on Tuesday and Thursday.",
				"Which department is your appointment with?",
				"I can reschedule the consultation for next week.",
				"Your check-up is in the outpatient clinic on the second floor.",
				"Do you have a referral letter for this consultation?",
			}},
			{"reception/emergency", []string{
				"Is this an emergency? How bad is the pain right now?",
				"Please tell me what happened and when the injury started.",
				"The emergency department will see you as soon as possible.",
				"Are you bleeding, or did you fall and hit your head?",
				"I will call the triage nurse for you right away.",
				"On a scale from one to ten, how strong is the pain?",
			}},
			{"reception/registration", []string{
				"I need to register you first. Do you have your insurance card?",
				"Please fill in the registration form with your address.",
				"Is your insurance still the same as last time?",
				"Can you give me your date of birth and your postcode?",
				"We need a signature for the data protection consent.",
				"Your patient record is not in our system yet.",
			}},
			{"reception/visiting", []string{
				"Which patient would you like to visit?",
				"Visiting hours on the ward are from two to seven.",
				"The patient was moved to another ward this morning.",
				"Only two visitors are allowed at the bedside at a time.",
				"Please disinfect your hands before you go onto the ward.",
				"Are you a relative of the patient?",
			}},
		},
		templates: []string{
			"IX-1 HAVE {appt} {day} | I have {appt} on {day}.",
			"IX-1 WANT {appt} {department} | I would like {appt} with {department}.",
			"{appt} WHAT TIME | What time is {appt}?",
			"IX-1 NEED {person} NOW | I need {person} now.",
			"{person} WHERE | Where is {person}?",
			"IX-1 {symptom} {since} | I have had {symptom} {since}.",
			"{bodypart} {symptom} | My {bodypart} — {symptom}.",
			"IX-1 {bodypart} HURT STRONG | My {bodypart} hurts badly.",
			"IX-1 FALL {bodypart} HURT | I fell and hurt my {bodypart}.",
			"IX-1 BRING {paper} | I brought {paper}.",
			"{paper} IX-1 FORGET | I forgot {paper}.",
			"IX-1 {paper} HAVE NOT | I do not have {paper}.",
			"{paper} FILL-IN HOW | How do I fill in {paper}?",
			"IX-1 VISIT {relative} | I am visiting my {relative}.",
			"{relative} {place} WHICH | Is my {relative} in the {place}?",
			"{place} WHERE | Where is the {place}?",
			"IX-1 WAIT {duration} | I have been waiting for {duration}.",
			"WAIT LONG HOW | How long do I have to wait?",
			"IX-1 DEAF NEED INTERPRETER | I am deaf and need an interpreter.",
			"{person} SIGN CAN | Can {person} sign?",
		},
	},
	{
		name: "pharmacy",
		greetings: []string{
			"Hello, this is the pharmacy. How can I help?",
			"Good afternoon, welcome to the pharmacy.",
			"Hi there, what can I do for you at the pharmacy today?",
		},
		closings: []string{
			"Here you go. Get well soon.",
			"That is everything. Come back if it does not get better.",
			"Thank you. The receipt is in the bag.",
		},
		topics: []topicSpec{
			{"pharmacy/prescription", []string{
				"Do you have a prescription from your doctor?",
				"The prescription was sent electronically this morning.",
				"This one needs a new prescription, the old one has expired.",
				"I can order it for you, it will be here tomorrow with the prescription.",
				"Is the prescription for you or for someone else?",
				"Let me check the prescription in the system.",
			}},
			{"pharmacy/dosage", []string{
				"How many times a day did the doctor say you should take it?",
				"The dosage is written on the label of the box.",
				"Take it with water, before or after meals as written.",
				"Do not take more than the maximum daily dose.",
				"For children the dose is half of the adult dose.",
				"Did you miss a dose yesterday?",
			}},
			{"pharmacy/side-effects", []string{
				"Have you noticed any side effects since you started?",
				"Some people feel drowsy or get a rash from it.",
				"Are you allergic to anything that you know of?",
				"If the reaction gets worse, stop and call your doctor.",
				"Do you take other medication that could interact with it?",
				"Side effects usually go away after a few days.",
			}},
			{"pharmacy/purchase", []string{
				"You can buy this one over the counter, no prescription needed.",
				"That comes to twelve euros fifty. Cash or card?",
				"We have a cheaper generic version of the same product.",
				"Would you like a bag for that?",
				"The larger pack is better value.",
				"Do you have a loyalty card with us?",
			}},
		},
		templates: []string{
			"IX-1 NEED {med} | I need {med}.",
			"{med} HAVE YOU | Do you have {med}?",
			"{med} {frequency} TAKE | Do I take {med} {frequency}?",
			"IX-1 TAKE {med} {frequency} | I take {med} {frequency}.",
			"{med} {count} TAKE OK | Is it ok to take {count} {med}?",
			"{med} FOOD BEFORE AFTER | Do I take {med} before or after food?",
			"{med} IX-1 {reaction} | {med} makes me {reaction}.",
			"IX-1 FEEL {reaction} | I feel {reaction}.",
			"IX-1 ALLERGIC {allergen} | I am allergic to {allergen}.",
			"{child} {symptom} | My {child} has {symptom}.",
			"{child} {med} CAN | Can my {child} take {med}?",
			"{paper} DOCTOR GIVE | The doctor gave me {paper}.",
			"{paper} IX-1 HAVE | I have {paper}.",
			"COST HOW-MUCH | How much does it cost?",
			"IX-1 {payverb} CARD | I will {payverb} by card.",
			"{med} CHEAP HAVE | Is there a cheaper {med}?",
			"IX-1 {symptom} {since} | I have had {symptom} {since}.",
			"{med} FINISH IX-1 | I have run out of {med}.",
		},
	},
	{
		name: "counter",
		greetings: []string{
			"Hello, this is the citizens' service counter. How can I help?",
			"Good morning, welcome to the service desk.",
			"Next please. What can I do for you today?",
		},
		closings: []string{
			"That is done. You will get a letter in two weeks.",
			"Thank you, have a nice day.",
			"Everything is in order. Goodbye.",
		},
		topics: []topicSpec{
			{"counter/passport", []string{
				"Is your passport expired, or do you need a new identity document?",
				"For a new passport we need a biometric photo.",
				"Your old passport will be cancelled when the new one is ready.",
				"Passports take about three weeks to be produced.",
				"Please look into the camera for the fingerprint and photo.",
				"Do you want to collect the passport here or have it posted?",
			}},
			{"counter/payment", []string{
				"The fee for this service has to be paid in advance.",
				"You can pay at the machine or by bank transfer.",
				"There is an outstanding invoice on your account.",
				"I can set up an instalment plan for the amount you owe.",
				"The payment has not arrived in our account yet.",
				"Would you like a receipt for the payment?",
			}},
			{"counter/parcel", []string{
				"Do you want to send a parcel or pick one up?",
				"Please put the parcel on the scale.",
				"Do you have the pickup notice from your letterbox?",
				"Registered mail needs a signature on delivery.",
				"International shipping takes about five working days.",
				"The tracking number is on the receipt.",
			}},
			{"counter/housing", []string{
				"Have you moved recently? You need to register your new address.",
				"For the change of address we need the landlord's confirmation.",
				"Is the flat rented or do you own it?",
				"The housing office is responsible for rent support.",
				"How many people live at the new address?",
				"You have two weeks after moving to register.",
			}},
		},
		templates: []string{
			"IX-1 NEED {doc} NEW | I need a new {doc}.",
			"{doc} IX-1 LOSE | I lost my {doc}.",
			"{doc} READY WHEN | When will my {doc} be ready?",
			"IX-1 {doc} EXPIRE | My {doc} has expired.",
			"IX-1 WANT {counterverb} {doc} | I want to {counterverb} my {doc}.",
			"{item} SEND {country} | I want to send {item} to {country}.",
			"{item} IX-1 PICK-UP | I am here to pick up {item}.",
			"{item} ARRIVE NOT | {item} has not arrived.",
			"IX-1 {payverb} {fee} | I want to {payverb} {fee}.",
			"{fee} COST HOW-MUCH | How much is {fee}?",
			"IX-1 MOVE {home} NEW | I moved to a new {home}.",
			"{home} ADDRESS CHANGE | I need to change the address of my {home}.",
			"IX-1 {home} {count} PERSON | {count} people live in my {home}.",
			"FORM WHERE | Where is the form?",
			"PHOTO NEED | Do you need a photo?",
			"IX-1 APPOINTMENT HAVE {day} | I have an appointment on {day}.",
		},
	},
}

// genericTemplates are used in every domain.
var genericTemplates = []string{
	"HELLO | Hello.",
	"GOOD MORNING | Good morning.",
	"THANK-YOU | Thank you.",
	"THANK-YOU MUCH | Thank you very much.",
	"YES UNDERSTAND | Yes, I understand.",
	"NOT UNDERSTAND AGAIN PLEASE | I did not understand, again please.",
	"WRITE PLEASE | Could you write it down, please?",
	"SLOW PLEASE | Slowly, please.",
	"OK FINE | Okay, fine.",
	"IX-1 NAME {name} | My name is {name}.",
	"IX-1 BIRTHDAY {month} {number} | My birthday is {month} {number}.",
	"IX-1 PHONE NUMBER {number} {number} {number} | My phone number starts {number} {number} {number}.",
	"{when} POSSIBLE | Is {when} possible?",
	"IX-1 COME BACK {when} | I will come back {when}.",
	"HOW-LONG TAKE | How long will it take?",
	"IX-1 DON'T-KNOW | I don't know.",
	"WAIT MOMENT | Wait a moment.",
	"IX-1 HUSBAND WITH | My husband is with me.",
	"IX-1 WIFE WITH | My wife is with me.",
	"GOODBYE | Goodbye.",
	"SORRY LATE IX-1 | Sorry I am late.",
	"TOILET WHERE | Where is the toilet?",
	"EXIT WHERE | Where is the exit?",
	"PARKING WHERE | Where is the parking?",
}

// categories fill template slots. A category may also own sign groups (see groups).
var categories = map[string]string{
	"day":         "MONDAY=Monday|TUESDAY=Tuesday|WEDNESDAY=Wednesday|THURSDAY=Thursday|FRIDAY=Friday|SATURDAY=Saturday|SUNDAY=Sunday|TODAY=today|TOMORROW=tomorrow",
	"when":        "TODAY=today|TOMORROW=tomorrow|NEXT-WEEK=next week|AFTERNOON=this afternoon|EVENING=this evening|LATER=later|MORNING=in the morning",
	"month":       "JANUARY=January|FEBRUARY=February|MARCH=March|APRIL=April|MAY=May|JUNE=June|JULY=July|AUGUST=August|SEPTEMBER=September|OCTOBER=October|NOVEMBER=November|DECEMBER=December",
	"number":      "FORTY=forty|FIFTY=fifty|HUNDRED=a hundred|ONE=one|TWO=two|THREE=three|FOUR=four|FIVE=five|SIX=six|SEVEN=seven|EIGHT=eight|NINE=nine|TEN=ten|ELEVEN=eleven|TWELVE=twelve|TWENTY=twenty|THIRTY=thirty",
	"count":       "ONE=one|TWO=two|THREE=three|FOUR=four|FIVE=five",
	"name":        "fs-ANNA=Anna|fs-BEN=Ben|fs-CARLA=Carla|fs-DAVID=David|fs-EMMA=Emma|fs-FARID=Farid|fs-GRETA=Greta|fs-HUGO=Hugo",
	"since":       "SINCE-YESTERDAY=since yesterday|SINCE-MORNING=since this morning|THREE-DAY=for three days|ONE-WEEK=for a week|LONG-TIME=for a long time",
	"duration":    "HOUR=an hour|HALF-HOUR=half an hour|TWO-HOUR=two hours|LONG=a long time",
	"appt":        "APPOINTMENT=an appointment|CHECK-UP=a check-up|OPERATION=an operation|BLOOD-TEST=a blood test|X-RAY=an X-ray",
	"department":  "DERMATOLOGY=dermatology|ORTHOPAEDICS=orthopaedics|NEUROLOGY=neurology|CARDIOLOGY=cardiology|SURGERY=surgery|CHILDREN-DOCTOR=the children's doctor|EYE-DOCTOR=the eye clinic|DENTIST=the dentist|GYNECOLOGY=gynaecology",
	"person":      "RECEPTIONIST=the receptionist|SURGEON=the surgeon|INTERPRETER=an interpreter|SOCIAL-WORKER=the social worker",
	"symptom":     "HEADACHE=a headache|FEVER=a fever|COUGH=a cough|COLD=a cold|STOMACH-ACHE=a stomach ache|NAUSEA=nausea|SORE-THROAT=a sore throat|BACK-PAIN=back pain|TOOTHACHE=toothache|DIARRHEA=diarrhoea|BLEEDING=bleeding|SWELLING=swelling",
	"bodypart":    "NECK=neck|HIP=hip|WRIST=wrist|FINGER=finger|TOOTH=tooth|HEAD=head|ARM=arm|LEG=leg|KNEE=knee|FOOT=foot|HAND=hand|CHEST=chest|STOMACH=stomach|BACK=back|EAR=ear|EYE=eye|THROAT=throat|SHOULDER=shoulder|ANKLE=ankle",
	"paper":       "INSURANCE-CARD=my insurance card|REFERRAL=a referral|ID-CARD=my ID card|LETTER=the letter|RESULTS=my test results|VACCINATION-BOOK=my vaccination book",
	"relative":    "UNCLE=uncle|AUNT=aunt|MOTHER=mother|FATHER=father|SON=son|DAUGHTER=daughter|BROTHER=brother|SISTER=sister|GRANDMOTHER=grandmother|GRANDFATHER=grandfather|FRIEND=friend",
	"place":       "WARD=ward|ROOM=room|LIFT=lift|CAFETERIA=cafeteria|LABORATORY=laboratory|WAITING-ROOM=waiting room|INTENSIVE-CARE=intensive care",
	"med":         "PAINKILLER=painkillers|ANTIBIOTIC=antibiotics|SYRUP=cough syrup|INHALER=an inhaler|PLASTER=plasters|VITAMIN=vitamins|NOSE-SPRAY=nose spray|EYE-DROPS=eye drops|INSULIN=insulin|ALLERGY-PILL=allergy pills",
	"frequency":   "ONCE-DAY=once a day|TWICE-DAY=twice a day|THREE-TIMES-DAY=three times a day|EVERY-MORNING=every morning|EVERY-NIGHT=every night|WEEKLY=once a week",
	"reaction":    "DIZZY=dizzy|ITCHY=itchy|SLEEPY=sleepy|SICK=sick|WEAK=weak|HOT=hot",
	"allergen":    "LATEX=latex|EGGS=eggs|PENICILLIN=penicillin|NUTS=nuts|LACTOSE=lactose|ASPIRIN=aspirin|POLLEN=pollen",
	"child":       "BABY=baby|CHILD=child|TEENAGER=teenager",
	"payverb":     "PAY=pay|PAY-CASH=pay in cash",
	"doc":         "PASSPORT=passport|DRIVING-LICENCE=driving licence|RESIDENCE-PERMIT=residence permit|BIRTH-CERTIFICATE=birth certificate|TAX-NUMBER=tax number",
	"counterverb": "APPLY=apply for|RENEW=renew|COLLECT=collect|CANCEL=cancel",
	"item":        "PARCEL-BIG=the big parcel|PACKAGE=the package|REGISTERED-LETTER=the registered letter|BOX=the box|DOCUMENTS=the documents",
	"country":     "AUSTRIA=Austria|GREECE=Greece|UKRAINE=Ukraine|GERMANY=Germany|FRANCE=France|ITALY=Italy|SPAIN=Spain|TURKEY=Turkey|POLAND=Poland|ENGLAND=England",
	"fee":         "FEE=the fee|INVOICE=the invoice|FINE=the fine|DEPOSIT=the deposit",
	"home":        "FLAT=flat|HOUSE=house|SHARED-FLAT=shared flat",
}

// groupSpec is a group of near-identical signs: the members differ in one subtle
// feature (contrast). Each member is favoured by the topics listed with it; every topic
// of the domain favours exactly one member.
type groupSpec struct {
	name     string
	domain   string
	category string
	contrast string // handshape, location, repetition, size, orientation
	members  []memberSpec
}

type memberSpec struct {
	gloss, text string
	topics      []string // topic names (without the domain) this member is likelier in
}

func m(gloss, text string, topics ...string) memberSpec {
	return memberSpec{gloss: gloss, text: text, topics: topics}
}

var groups = []groupSpec{
	// hospital reception
	{"doctor/nurse", "reception", "person", "handshape", []memberSpec{
		m("DOCTOR", "the doctor", "appointment", "registration"), m("NURSE", "the nurse", "emergency", "visiting")}},
	{"appointment/visit", "reception", "appt", "repetition", []memberSpec{
		m("CONSULTATION", "a consultation", "appointment", "registration"), m("VISIT", "a visit", "visiting", "emergency")}},
	{"pain/injury/wound", "reception", "symptom", "location", []memberSpec{
		m("PAIN", "pain", "appointment", "registration"), m("INJURY", "an injury", "emergency"), m("INFECTION", "an infection", "visiting")}},
	{"form/card", "reception", "paper", "handshape", []memberSpec{
		m("FORM", "the form", "registration", "appointment"), m("VISITOR-PASS", "the visitor pass", "visiting", "emergency")}},
	{"emergency/ambulance", "reception", "place", "orientation", []memberSpec{
		m("EMERGENCY-ROOM", "emergency room", "emergency", "appointment"), m("STATION", "station", "visiting", "registration")}},
	{"now/urgent", "reception", "duration", "size", []memberSpec{
		m("MINUTE", "a few minutes", "emergency", "visiting"), m("DAY", "a whole day", "appointment", "registration")}},
	{"husband/partner/patient", "reception", "relative", "location", []memberSpec{
		m("PATIENT", "patient", "visiting"), m("PARTNER", "partner", "emergency", "appointment"), m("GUARDIAN", "guardian", "registration")}},
	// pharmacy
	{"tablet/capsule/drops", "pharmacy", "med", "handshape", []memberSpec{
		m("TABLET", "tablets", "dosage", "prescription"), m("CAPSULE", "capsules", "purchase"), m("DROPS", "drops", "side-effects")}},
	{"prescription/receipt", "pharmacy", "paper", "orientation", []memberSpec{
		m("PRESCRIPTION", "a prescription", "prescription", "dosage"), m("RECEIPT", "a receipt", "purchase", "side-effects")}},
	{"daily/weekly", "pharmacy", "frequency", "repetition", []memberSpec{
		m("DAILY", "every day", "dosage", "prescription"), m("AS-NEEDED", "only when needed", "purchase", "side-effects")}},
	{"rash/itch", "pharmacy", "reaction", "location", []memberSpec{
		m("TIRED", "tired", "side-effects", "dosage"), m("BETTER", "better", "prescription", "purchase")}},
	{"cream/ointment/gel", "pharmacy", "med", "size", []memberSpec{
		m("CREAM", "cream", "purchase", "side-effects"), m("OINTMENT", "ointment", "prescription"), m("GEL", "gel", "dosage")}},
	{"allergy/reaction", "pharmacy", "symptom", "handshape", []memberSpec{
		m("RASH", "a rash", "side-effects", "purchase"), m("FLU", "the flu", "prescription", "dosage")}},
	{"pay/insurance", "pharmacy", "payverb", "orientation", []memberSpec{
		m("BUY", "buy it and pay", "purchase", "prescription"), m("CO-PAY", "make the co-payment", "dosage", "side-effects")}},
	// service counter
	{"passport/id/licence", "counter", "doc", "handshape", []memberSpec{
		m("ID-DOCUMENT", "identity document", "passport"), m("CERTIFICATE", "certificate", "housing", "parcel"), m("CONTRACT", "contract", "payment")}},
	{"parcel/letter", "counter", "item", "size", []memberSpec{
		m("PARCEL", "the parcel", "parcel", "payment"), m("LETTER-POST", "the letter", "housing", "passport")}},
	{"pay/transfer", "counter", "payverb", "repetition", []memberSpec{
		m("TRANSFER", "transfer", "payment", "housing"), m("PAY-MACHINE", "pay at the machine for", "passport", "parcel")}},
	{"rent/deposit", "counter", "fee", "location", []memberSpec{
		m("RENT", "the rent", "housing", "payment"), m("POSTAGE", "the postage", "parcel", "passport")}},
	{"apartment/room", "counter", "home", "orientation", []memberSpec{
		m("APARTMENT", "apartment", "housing"), m("OFFICE", "office", "payment", "parcel"), m("DORM", "dormitory room", "passport")}},
	{"stamp/sign", "counter", "counterverb", "handshape", []memberSpec{
		m("EXTEND", "extend", "passport", "housing"), m("REPLACE", "replace", "payment", "parcel")}},
	{"week/month", "counter", "when", "size", []memberSpec{
		m("NEXT-MONTH", "next month", "housing", "payment"), m("NEXT-FRIDAY", "next Friday", "parcel", "passport")}},
}
