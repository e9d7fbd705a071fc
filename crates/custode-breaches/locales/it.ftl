# Il registro delle violazioni: la notifica all'autorità (art. 33, par. 3)
# e la comunicazione agli interessati (art. 34).

notice-title = Notifica di una violazione dei dati personali
notice-title-telecom = Notifica di una violazione dei dati personali (Regolamento 611/2013)
notice-breach = Violazione { $id }, versione { $version } della scheda
controller = Titolare del trattamento
contact = Punto di contatto per ulteriori informazioni (art. 33, par. 3, lett. b)
timeline = Tempi
detected = Rilevata
aware = Venuto a conoscenza
deadline = Termine per questa notifica
rule-other = 72 ore dal momento in cui se ne è venuti a conoscenza (art. 33, par. 1, GDPR)
rule-electronic_communications = 24 ore dalla rilevazione (art. 2, par. 2, Regolamento 611/2013)
notified = Notificata
not-notified = Non ancora notificata
follow-up = Notifica successiva
late-reason = Motivi del ritardo
nature = Natura della violazione (art. 33, par. 3, lett. a)
nature-confidentiality = Riservatezza: dati divulgati o accessibili senza autorizzazione
nature-integrity = Integrità: dati modificati senza autorizzazione
nature-availability = Disponibilità: dati persi o resi inaccessibili
description = Cosa è accaduto
systems = Sistemi coinvolti
concerned = Dati e persone coinvolti
data-categories = Categorie di dati
subject-kinds = Categorie di interessati
approx = Numeri approssimativi dichiarati: { $subjects } interessati, { $records } registrazioni
computed = Calcolati dai dati conservati, il { $date }: { $subjects } interessati e { $records } registrazioni
column-tenant = Cliente
column-category = Categoria
column-people = Interessati
column-records = Registrazioni
consequences = Probabili conseguenze (art. 33, par. 3, lett. c)
measures-taken = Misure adottate (art. 33, par. 3, lett. d)
measures-proposed = Misure proposte (art. 33, par. 3, lett. d)
people = Comunicazione agli interessati (art. 34)
people-told = { $count } interessati sono stati informati individualmente.
people-not-yet = Gli interessati non sono ancora stati informati individualmente.
exemption-unintelligible = Non sono informati individualmente: i dati sono incomprensibili a chiunque non sia autorizzato ad accedervi (art. 34, par. 3, lett. a).
exemption-risk_no_longer_likely = Non sono informati individualmente: le misure adottate successivamente scongiurano il sopraggiungere del rischio elevato (art. 34, par. 3, lett. b).
exemption-disproportionate_effort = Non sono informati individualmente, perché richiederebbe sforzi sproporzionati: una comunicazione pubblica li informa con analoga efficacia (art. 34, par. 3, lett. c).
public-notice = Comunicazione pubblica
unknown = non noto
none = nessuno
person-subject = { $controller }: una violazione che riguarda i suoi dati personali
person-body =
    Gentile cliente,

    il { $date } siamo venuti a conoscenza di una violazione della sicurezza che riguarda dati personali che conserviamo su di lei.

    Cosa è accaduto: { $description }

    Dati coinvolti: { $categories }

    Probabili conseguenze: { $consequences }

    Cosa abbiamo fatto e faremo: { $measures }

    Per ulteriori informazioni può rivolgersi a { $contact }. Può inoltre proporre reclamo a { $authority }.

    { $controller }
