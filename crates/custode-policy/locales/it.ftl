# Custode — informativa privacy e registro dei trattamenti — catalogo italiano.
# Ogni id di messaggio deve esistere anche in en.ftl, fr.ftl e nl.ftl (lo verifica un test).

## Documento

notice-title = Informativa sul trattamento dei dati personali
notice-intro = Questa informativa spiega come { $controller } tratta i Suoi dati personali, perché, su quale base giuridica, per quanto tempo e quali diritti Lei ha (articoli 13 e 14 del Regolamento (UE) 2016/679, il GDPR).
notice-version = Versione { $version }, in vigore dal { $date }.
date = { $day } { $month } { $year }
month-1 = gennaio
month-2 = febbraio
month-3 = marzo
month-4 = aprile
month-5 = maggio
month-6 = giugno
month-7 = luglio
month-8 = agosto
month-9 = settembre
month-10 = ottobre
month-11 = novembre
month-12 = dicembre

## Contatti

section-controller = Chi è responsabile dei Suoi dati
controller-intro = Il titolare del trattamento dei Suoi dati personali è:
label-address = Indirizzo
label-email = E-mail
label-phone = Telefono
label-tax-id = Partita IVA / codice fiscale
label-website = Sito web
labelled = { $label }: { $value }
section-joint = Contitolari del trattamento
joint-intro = { $name } determina insieme a noi come sono trattati i Suoi dati. { $responsibilities }
section-representative = Rappresentante nell'Unione europea
representative-intro = Il nostro rappresentante nell'Unione europea (art. 27 GDPR) è:
section-dpo = Responsabile della protezione dei dati
dpo-intro = Può rivolgersi al nostro responsabile della protezione dei dati (DPO) per qualsiasi domanda sui Suoi dati personali e sui Suoi diritti:
dpo-none = Non abbiamo designato un responsabile della protezione dei dati; può scrivere al titolare ai contatti indicati sopra.

## Dati

section-data = I dati che trattiamo
category-fields = Dati: { $fields }.
category-from-you = Raccogliamo questi dati presso di Lei.
category-source = Fonte: { $source }
category-special = Si tratta di categorie particolari di dati (art. 9 GDPR).
requirement-voluntary = Il conferimento di questi dati è facoltativo.
requirement-contractual = Il conferimento di questi dati è un obbligo contrattuale. { $consequence }
requirement-contract_precondition = Il conferimento di questi dati è necessario per concludere il contratto. { $consequence }
requirement-statutory = Il conferimento di questi dati è obbligatorio per legge. { $consequence }

## Finalità

section-purposes = Perché trattiamo i Suoi dati e su quale base giuridica
purpose-basis = Base giuridica: { $basis }.
basis-consent = il Suo consenso (art. 6, par. 1, lett. a, GDPR)
basis-contract = l'esecuzione di un contratto di cui Lei è parte o di misure precontrattuali adottate su Sua richiesta (art. 6, par. 1, lett. b, GDPR)
basis-legal_obligation = l'adempimento di un obbligo legale al quale siamo soggetti (art. 6, par. 1, lett. c, GDPR)
basis-vital_interests = la salvaguardia degli interessi vitali Suoi o di un'altra persona (art. 6, par. 1, lett. d, GDPR)
basis-public_task = l'esecuzione di un compito di interesse pubblico (art. 6, par. 1, lett. e, GDPR)
basis-legitimate_interests = il nostro legittimo interesse (art. 6, par. 1, lett. f, GDPR)
purpose-law = L'obbligo deriva da: { $law }
purpose-interest = Il legittimo interesse perseguito: { $interest }
purpose-withdrawal = Può revocare il consenso in qualsiasi momento, con la stessa facilità con cui lo ha dato. { $how } La revoca non pregiudica la liceità del trattamento basato sul consenso prima della revoca.
purpose-categories = Dati trattati: { $list }.
purpose-subjects = Interessati: { $list }.
purpose-retention = Conservazione: { $retention }.
purpose-recipients = Destinatari: { $list }.
purpose-no-recipients = Questi dati non sono comunicati a nessuno.
purpose-vault = Conserviamo questi dati solo perché la legge lo impone, in un archivio separato su sistemi dedicati, accessibili solo con autenticazione forte e con ogni accesso registrato e controllato; sono comunicati soltanto all'autorità giudiziaria su ordine motivato.
purpose-marketing = Può opporsi a questo trattamento in qualsiasi momento, senza motivarlo: smettiamo subito.
purpose-special = Le categorie particolari di dati sono trattate ai sensi dell'art. 9, par. 2, lett. { $letter }, GDPR: { $condition }.
special-explicit_consent = il Suo consenso esplicito
special-employment = obblighi in materia di diritto del lavoro e della sicurezza sociale
special-vital_interests = la tutela di un interesse vitale di una persona incapace di prestare il consenso
special-not_for_profit = le legittime attività di un organismo senza scopo di lucro
special-made_public = dati che Lei ha reso manifestamente pubblici
special-legal_claims = l'accertamento, l'esercizio o la difesa di un diritto in sede giudiziaria
special-substantial_public_interest = motivi di interesse pubblico rilevante
special-health_care = finalità di medicina preventiva o del lavoro, assistenza sanitaria o sociale
special-public_health = motivi di interesse pubblico nel settore della sanità pubblica
special-archiving = finalità di archiviazione, ricerca o statistica

## Conservazione in parole

span-day = { $n ->
    [one] { $n } giorno
   *[other] { $n } giorni
}
span-week = { $n ->
    [one] { $n } settimana
   *[other] { $n } settimane
}
span-month = { $n ->
    [one] { $n } mese
   *[other] { $n } mesi
}
span-year = { $n ->
    [one] { $n } anno
   *[other] { $n } anni
}
retention-collection = { $span } dalla raccolta
retention-account_closed = { $span } dalla chiusura dell'account
retention-contract_end = { $span } dalla cessazione del contratto
retention-last_activity = { $span } dall'ultima attività
retention-consent_withdrawn = fino alla revoca del consenso, poi { $span }
retention-account_closed-now = fino alla chiusura dell'account
retention-contract_end-now = fino alla cessazione del contratto
retention-last_activity-now = finché Lei utilizza il servizio
retention-consent_withdrawn-now = fino alla revoca del consenso
retention-collection-now = solo per il momento della raccolta
section-retention = Per quanto tempo conserviamo i Suoi dati
retention-intro = Nessun dato è conservato a tempo indeterminato: ogni finalità ha il proprio periodo, trascorso il quale i dati sono cancellati o resi anonimi.
retention-backups = I nostri backup sono protetti da chiavi che distruggiamo { $days } giorni dopo averle create: i dati di una persona cancellata possono sopravvivere nei nostri backup per al massimo { $days } giorni, dopodiché nessun backup è più leggibile.

## Destinatari e trasferimenti

section-recipients = A chi comunichiamo i Suoi dati
recipients-intro = I Suoi dati sono trattati dal nostro personale autorizzato e, quando necessario, da:
recipients-none = Non comunichiamo i Suoi dati a nessuno al di fuori della nostra organizzazione.
recipient-line = { $name } ({ $role }, { $country })
role-processor = responsabile del trattamento per nostro conto
role-controller = titolare autonomo
role-public_authority = autorità pubblica
section-transfers = Trasferimenti fuori dallo Spazio economico europeo
transfers-none = I Suoi dati non sono trasferiti fuori dallo Spazio economico europeo.
transfers-intro = Alcuni destinatari trattano i Suoi dati fuori dallo Spazio economico europeo, con queste garanzie:
transfer-line = { $name } ({ $country }): { $safeguard }.
transfer-reference = Una copia della garanzia si può ottenere presso { $reference }.
safeguard-adequacy = decisione di adeguatezza della Commissione europea (art. 45 GDPR)
safeguard-scc = clausole contrattuali tipo adottate dalla Commissione europea (art. 46, par. 2, lett. c, GDPR)
safeguard-bcr = norme vincolanti d'impresa (art. 47 GDPR)
safeguard-code_of_conduct = un codice di condotta approvato (art. 46, par. 2, lett. e, GDPR)
safeguard-certification = un meccanismo di certificazione approvato (art. 46, par. 2, lett. f, GDPR)
safeguard-derogation = una deroga per situazioni specifiche (art. 49 GDPR)

## Diritti

section-rights = I Suoi diritti
rights-intro = Sui Suoi dati personali Lei ha i seguenti diritti:
right-access = accesso: sapere se trattiamo Suoi dati e ottenerne copia, con finalità, categorie, destinatari, conservazione e fonte (art. 15 GDPR);
right-rectification = rettifica: ottenere la correzione dei dati inesatti e l'integrazione di quelli incompleti (art. 16 GDPR);
right-erasure = cancellazione: ottenere la cancellazione dei dati quando, tra l'altro, non sono più necessari, Lei revoca il consenso o si oppone (art. 17 GDPR);
right-restriction = limitazione: ottenere che i dati siano solo conservati mentre se ne verifica l'esattezza o l'opposizione, o in luogo della cancellazione (art. 18 GDPR);
right-portability = portabilità: ricevere i dati che ci ha fornito in un formato strutturato, di uso comune e leggibile da dispositivo automatico, e farli trasmettere a un altro titolare (art. 20 GDPR);
right-objection = opposizione: opporsi in qualsiasi momento al trattamento basato sul legittimo interesse o su un compito pubblico; per il marketing diretto l'opposizione è assoluta (art. 21 GDPR);
right-automated = non essere sottoposto a una decisione basata unicamente su un trattamento automatizzato e ottenere l'intervento umano (art. 22 GDPR);
right-withdraw = revocare il consenso in qualsiasi momento, senza pregiudicare la liceità del trattamento precedente (art. 7, par. 3, GDPR);
right-notification = sapere a chi abbiamo comunicato i dati quando li rettifichiamo, cancelliamo o ne limitiamo il trattamento (art. 19 GDPR).
rights-how = Per esercitare i Suoi diritti può contattarci:
rights-email = via e-mail all'indirizzo { $email }
rights-address = per posta all'indirizzo { $address }
rights-portal = tramite il portale { $portal }
rights-deadline-days = Rispondiamo entro { $days } giorni dal ricevimento della richiesta, e comunque non oltre un mese (art. 12, par. 3, GDPR). Per richieste complesse o numerose il termine può essere prorogato di due mesi; in tal caso glielo comunichiamo entro il primo mese, con i motivi.
rights-deadline-month = Rispondiamo entro un mese dal ricevimento della richiesta (art. 12, par. 3, GDPR). Per richieste complesse o numerose il termine può essere prorogato di due mesi; in tal caso glielo comunichiamo entro il primo mese, con i motivi.
rights-free = L'esercizio dei diritti è gratuito.
section-complaint = Reclami
complaint = Se ritiene che il trattamento dei Suoi dati violi la normativa, Lei ha il diritto di proporre reclamo all'autorità di controllo, { $authority }, o di ricorrere all'autorità giudiziaria.
complaint-website = Sito dell'autorità: { $website }

## Decisioni automatizzate, cookie, minori, sicurezza, modifiche

section-automated = Decisioni automatizzate e profilazione
automated-none = Non adottiamo decisioni basate unicamente su trattamenti automatizzati, compresa la profilazione, che producano effetti giuridici che La riguardano o che incidano in modo analogo significativamente sulla Sua persona.
automated-present = Adottiamo decisioni basate unicamente su trattamenti automatizzati.
automated-logic = La logica utilizzata: { $logic }
automated-significance = Importanza e conseguenze per Lei: { $significance }
section-cookies = Cookie
cookies-intro = I nostri siti usano i seguenti cookie:
cookie-line = { $name } — { $kind }, impostato da { $provider }, { $duration }
cookie-kind-technical = tecnico
cookie-kind-preferences = di preferenza
cookie-kind-analytics = analitico
cookie-kind-marketing = di marketing
cookie-session = di durata pari alla sessione del browser
cookie-duration = della durata di { $span }
section-minors = Minori
minors = I nostri servizi sono destinati a persone di almeno { $age } anni; non raccogliamo consapevolmente dati di persone più giovani e cancelliamo quelli di cui veniamo a conoscenza.
section-security = Come proteggiamo i Suoi dati
section-changes = Modifiche a questa informativa
section-language = Lingua
authoritative = Questa informativa è pubblicata in più lingue; in caso di discrepanze prevale la versione in { $language }.
language-it = italiano
language-en = inglese
language-fr = francese
language-nl = olandese

## Paesi

country-AT = Austria
country-BE = Belgio
country-CA = Canada
country-CH = Svizzera
country-DE = Germania
country-ES = Spagna
country-FR = Francia
country-GB = Regno Unito
country-IE = Irlanda
country-IL = Israele
country-IT = Italia
country-JP = Giappone
country-LU = Lussemburgo
country-NL = Paesi Bassi
country-NO = Norvegia
country-PL = Polonia
country-PT = Portogallo
country-SE = Svezia
country-US = Stati Uniti

## Nomi dei termini DPV dei dati personali, usati quando un campo non ha etichetta

pd-Name = nome
pd-FirstName = nome di battesimo
pd-LastName = cognome
pd-EmailAddress = indirizzo e-mail
pd-TelephoneNumber = numero di telefono
pd-PhysicalAddress = indirizzo postale
pd-IPAddress = indirizzo IP
pd-Username = nome utente
pd-Password = password
pd-DateOfBirth = data di nascita
pd-Identifier = identificativo
pd-OfficialID = documento di identità
pd-PaymentCardNumber = numero della carta di pagamento
pd-BankAccount = conto bancario
pd-Country = paese
pd-Language = lingua
pd-Picture = immagine

## Registro delle attività di trattamento (art. 30, par. 1)

ropa-title = Registro delle attività di trattamento
ropa-intro = Tenuto da { $controller } ai sensi dell'art. 30, par. 1, GDPR. Versione { $version }, in vigore dal { $date }.
ropa-a = (a) Titolare, contitolari, rappresentante e responsabile della protezione dei dati
ropa-b = (b) Finalità del trattamento
ropa-c = (c) Categorie di interessati e di dati personali
ropa-d = (d) Categorie di destinatari, compresi quelli di paesi terzi
ropa-e = (e) Trasferimenti verso paesi terzi e relative garanzie
ropa-f = (f) Termini ultimi per la cancellazione
ropa-g = (g) Misure di sicurezza tecniche e organizzative
ropa-activity = Attività di trattamento
ropa-basis = Base giuridica
ropa-subjects = Interessati
ropa-categories = Dati personali
ropa-recipients = Destinatari
ropa-transfers = Trasferimenti
ropa-erasure = Cancellazione
ropa-none = nessuno
ropa-controller = Titolare
ropa-joint = Contitolare
ropa-representative = Rappresentante
ropa-dpo = Responsabile della protezione dei dati
ropa-technical = Tecniche
ropa-organisational = Organizzative
ropa-vault = conservati nell'archivio separato

## One-click unsubscribe pages
unsubscribe-title = Annulla l'iscrizione
unsubscribe-confirm = Desidera smettere di ricevere messaggi per «{ $purpose }»?
unsubscribe-button = Annulla l'iscrizione
unsubscribe-done = Fatto: non riceverà più messaggi per «{ $purpose }». Nient'altro è cambiato.
unsubscribe-unknown = Questo link di disiscrizione non è valido, oppure la persona per cui era stato creato non è più nei nostri archivi.

## Access (Art. 15) summary
access-title = I Suoi dati personali
access-intro = Questa è una copia dei dati personali che { $controller } conserva su di Lei al { $date } (articolo 15 del GDPR). I file records.json e records.csv contengono ogni dato; questo riepilogo spiega perché li conserviamo, su quale base giuridica, chi li riceve, per quanto tempo li conserviamo e quali sono i Suoi diritti.
access-held = I dati che conserviamo su di Lei
access-category = { $category }: { $count ->
    [one] { $count } registrazione
   *[other] { $count } registrazioni
}
access-purposes = Finalità e base giuridica: { $purposes }
access-retention = Per quanto tempo li conserviamo: { $retention }
access-recipients = Chi li riceve: { $recipients }
access-source = Da dove provengono: { $source }
access-source-you = da Lei, o dal Suo uso dei nostri servizi
access-none = nessuno al di fuori della nostra organizzazione
access-vault = Che cosa conserviamo a parte perché la legge lo impone
access-vault-line = { $category }: { $count } registrazioni, conservate in un archivio separato perché la legge lo impone ({ $law }), fino al { $until }.
access-vault-given = Il loro contenuto è nei file records.json e records.csv.
access-vault-withheld = Non ne comunichiamo il contenuto con questa risposta: { $reason }
access-vault-withheld-default = la legge che ci obbliga a conservarle ne consente l'uso solo per la finalità che indica, e può limitarne la comunicazione (art. 23 del GDPR). Può chiedere al nostro responsabile della protezione dei dati di riesaminare questa scelta.
answer-vault-title = Che cosa conserviamo a parte perché la legge lo impone
access-notice = Tutto il resto che diciamo a tutti: la nostra informativa

## Risposte alle richieste di esercizio dei diritti e codici di verifica
answer-title = Risposta alla Sua richiesta { $request }
answer-intro = { $controller }, { $date }.
answer-accepted = Abbiamo dato seguito alla Sua richiesta.
answer-partially_accepted = Abbiamo dato seguito alla Sua richiesta in parte; per il resto, le ragioni sono indicate di seguito.
answer-refused = Non possiamo dare seguito alla Sua richiesta, per le ragioni indicate di seguito.
answer-nothing-held = Non trattiamo alcun dato personale che La riguardi: abbiamo cercato nei nostri archivi e nei sistemi in cui conserviamo i dati dei clienti con l'identificativo da Lei indicato, senza trovare nulla (art. 15 GDPR).
answer-reasons = Motivi: { $reasons }
answer-done = Che cosa abbiamo fatto
answer-erased = { $count ->
    [one] Abbiamo cancellato { $count } registrazione.
   *[other] Abbiamo cancellato { $count } registrazioni.
}
answer-kept-title = Che cosa conserviamo, e perché
answer-kept = { $category }: { $count ->
    [one] { $count } registrazione, conservata
   *[other] { $count } registrazioni, conservate
} perché la legge lo impone ({ $grounds }), fino al { $until }; non { $count ->
    [one] è usata
   *[other] sono usate
} per altro.
answer-kept-vault = { $category }: { $count ->
    [one] { $count } registrazione, conservata
   *[other] { $count } registrazioni, conservate
} in un archivio separato perché la legge lo impone ({ $grounds }), fino al { $until }; { $count ->
    [one] comunicata
   *[other] comunicate
} solo all'autorità giudiziaria su ordine motivato.
answer-kept-fields = Sono conservati solo questi campi: { $fields }; gli altri sono cancellati.
answer-until-open = la fine del periodo fissato dalla legge
answer-told = Abbiamo informato di questa modifica i destinatari che avevano ricevuto i Suoi dati (art. 19 GDPR):
code-subject = { $controller }: il Suo codice di verifica
code-body = Il codice per confermare la Sua richiesta { $request } è { $code }. Vale una sola volta e scade alle { $expires }. Se non ha presentato questa richiesta, ignori questo messaggio e ce lo segnali.
restriction-lift-subject = { $controller }: termina la limitazione dei Suoi dati
restriction-lift-body = La limitazione del trattamento dei Suoi dati personali, che Lei ha ottenuto ai sensi dell'articolo 18 del GDPR, viene revocata per questo motivo: { $reason }. Può opporsi, o chiedere una nuova limitazione, rispondendo a questo messaggio o ai recapiti indicati nella nostra informativa.
extension-subject = { $controller }: più tempo per rispondere alla Sua richiesta { $request }
extension-body = Abbiamo bisogno di più tempo per rispondere alla Sua richiesta { $request }, per questo motivo: { $reason }. L'articolo 12, paragrafo 3, del GDPR consente due mesi ulteriori: risponderemo entro il { $due }.
answer-told-line = { $recipient }, il { $date }
answer-told-pending = Stiamo informando questi destinatari, che avevano ricevuto i Suoi dati (art. 19 GDPR); alla data di questa risposta la comunicazione non era ancora confermata:
answer-told-none = I Suoi dati non erano stati comunicati a destinatari da informare di questa modifica (art. 19 GDPR).
recipient-notice-subject = { $controller }: { $action ->
    [erasure] cancellazione
    [rectification] rettifica
   *[restriction] limitazione del trattamento
} di dati personali (art. 19 GDPR), riferimento { $request }
recipient-notice-body = Il destinatario di questo messaggio ha ricevuto da noi dati personali dell'interessato con il nostro riferimento { $subject }. Su richiesta dell'interessato ({ $request }) abbiamo { $action ->
    [erasure] cancellato i suoi dati
    [rectification] rettificato i suoi dati
   *[restriction] limitato il trattamento dei suoi dati
} di queste categorie: { $categories }. Ai sensi dell'articolo 19 del GDPR ne diamo comunicazione, affinché lo stesso sia fatto per i dati ricevuti da noi. Per domande è possibile rispondere a questo messaggio.
answer-told = Abbiamo informato di questa modifica i destinatari dei suoi dati (art. 19 GDPR): { $recipients }.
code-subject = { $controller }: il suo codice di verifica
code-body = Il codice per confermare la sua richiesta { $request } è { $code }. Vale una sola volta e scade alle { $expires }. Se non ha presentato questa richiesta, ignori questo messaggio e ce lo segnali.
restriction-lift-subject = { $controller }: termina la limitazione dei suoi dati
restriction-lift-body = La limitazione del trattamento dei suoi dati personali, che lei ha ottenuto ai sensi dell'articolo 18 del GDPR, viene revocata per questo motivo: { $reason }. Può opporsi, o chiedere una nuova limitazione, rispondendo a questo messaggio o ai recapiti indicati nella nostra informativa.
extension-subject = { $controller }: più tempo per rispondere alla sua richiesta { $request }
extension-body = Abbiamo bisogno di più tempo per rispondere alla sua richiesta { $request }, per questo motivo: { $reason }. L'articolo 12, paragrafo 3, del GDPR consente due mesi ulteriori: risponderemo entro il { $due }.

## Inactivity rules of subject kinds (policy: close_after_inactivity)

retention-inactivity = { $subjects }: un account non utilizzato per { $span } viene chiuso e da quel momento decorrono i periodi calcolati dalla chiusura dell'account.
portal-code-subject = { $controller }: il Suo codice per il portale privacy
portal-code-body = Il Suo codice per accedere al portale privacy: { $code }. Vale una sola volta e scade il { $expires }. Se non lo ha richiesto, ignori questo messaggio.
