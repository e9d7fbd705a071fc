# Custode privacy notice and record of processing — Dutch catalogue.
# Every message id here must exist in en.ftl, it.ftl and fr.ftl (a test checks).
# Variables are filled in by the renderer; texts from the policy file arrive
# already in this language.

## Document

notice-title = Privacyverklaring
notice-intro = In deze verklaring leest u hoe { $controller } uw persoonsgegevens verwerkt, waarom, op welke rechtsgrond en hoe lang, en welke rechten u hebt (artikelen 13 en 14 van Verordening (EU) 2016/679, de Algemene verordening gegevensbescherming of AVG).
notice-version = Versie { $version }, van kracht vanaf { $date }.
date = { $day } { $month } { $year }
month-1 = januari
month-2 = februari
month-3 = maart
month-4 = april
month-5 = mei
month-6 = juni
month-7 = juli
month-8 = augustus
month-9 = september
month-10 = oktober
month-11 = november
month-12 = december

## Contacts

section-controller = Wie is verantwoordelijk voor uw gegevens
controller-intro = De verwerkingsverantwoordelijke voor uw persoonsgegevens is:
label-address = Adres
label-email = E-mail
label-phone = Telefoon
label-tax-id = Btw-nummer / fiscaal nummer
label-website = Website
labelled = { $label }: { $value }
section-joint = Gezamenlijke verwerkingsverantwoordelijken
joint-intro = { $name } bepaalt samen met ons hoe uw gegevens worden verwerkt. { $responsibilities }
section-representative = Vertegenwoordiger in de Europese Unie
representative-intro = Onze vertegenwoordiger in de Europese Unie (art. 27 AVG) is:
section-dpo = Functionaris voor gegevensbescherming
dpo-intro = U kunt met al uw vragen over uw persoonsgegevens en uw rechten terecht bij onze functionaris voor gegevensbescherming:
dpo-none = Wij hebben geen functionaris voor gegevensbescherming aangewezen; u kunt zich wenden tot de verwerkingsverantwoordelijke via de hierboven vermelde contactgegevens.

## Data

section-data = Welke gegevens wij verwerken
category-fields = Gegevens: { $fields }.
category-from-you = Deze gegevens verkrijgen wij rechtstreeks van u.
category-source = Bron: { $source }
category-special = Dit zijn bijzondere categorieën van persoonsgegevens (art. 9 AVG).
requirement-voluntary = Het verstrekken van deze gegevens is niet verplicht.
requirement-contractual = Het verstrekken van deze gegevens is een contractuele verplichting. { $consequence }
requirement-contract_precondition = Het verstrekken van deze gegevens is noodzakelijk om de overeenkomst te kunnen sluiten. { $consequence }
requirement-statutory = Het verstrekken van deze gegevens is wettelijk verplicht. { $consequence }

## Purposes

section-purposes = Waarom wij uw gegevens verwerken en op welke rechtsgrond
purpose-basis = Rechtsgrond: { $basis }.
basis-consent = uw toestemming (art. 6 lid 1 sub a AVG)
basis-contract = de uitvoering van een overeenkomst met u, of het op uw verzoek nemen van maatregelen voorafgaand aan het sluiten daarvan (art. 6 lid 1 sub b AVG)
basis-legal_obligation = het nakomen van een wettelijke verplichting die op ons rust (art. 6 lid 1 sub c AVG)
basis-vital_interests = de bescherming van uw vitale belangen of die van een andere natuurlijke persoon (art. 6 lid 1 sub d AVG)
basis-public_task = de vervulling van een taak van algemeen belang (art. 6 lid 1 sub e AVG)
basis-legitimate_interests = onze gerechtvaardigde belangen (art. 6 lid 1 sub f AVG)
purpose-law = De verplichting vloeit voort uit: { $law }
purpose-interest = Het gerechtvaardigde belang dat wij behartigen: { $interest }
purpose-withdrawal = U kunt uw toestemming op elk moment intrekken, even eenvoudig als u die hebt gegeven. { $how } Het intrekken van de toestemming laat de rechtmatigheid van de verwerking op basis van de toestemming vóór de intrekking onverlet.
purpose-categories = Gebruikte gegevens: { $list }.
purpose-subjects = Betrokkenen: { $list }.
purpose-retention = Bewaartermijn: { $retention }.
purpose-recipients = Ontvangers: { $list }.
purpose-no-recipients = Deze gegevens worden aan niemand verstrekt.
purpose-vault = Wij bewaren deze gegevens uitsluitend omdat de wet dat voorschrijft, in een afgescheiden archief op aparte systemen dat alleen met sterke authenticatie toegankelijk is, waarbij elke toegang wordt gelogd en gecontroleerd; de gegevens worden uitsluitend verstrekt aan de justitiële autoriteiten, op grond van een met redenen omkleed bevel.
purpose-marketing = U kunt op elk moment en zonder opgave van redenen bezwaar maken tegen dit gebruik: wij stoppen daar dan onmiddellijk mee.
purpose-special = Bijzondere categorieën van persoonsgegevens worden verwerkt op grond van art. 9 lid 2 sub { $letter } AVG: { $condition }.
special-explicit_consent = uw uitdrukkelijke toestemming
special-employment = verplichtingen op het gebied van het arbeidsrecht en het socialezekerheidsrecht
special-vital_interests = de bescherming van de vitale belangen van een persoon die niet in staat is toestemming te geven
special-not_for_profit = de gerechtvaardigde activiteiten van een organisatie zonder winstoogmerk
special-made_public = gegevens die u kennelijk zelf openbaar hebt gemaakt
special-legal_claims = de instelling, uitoefening of onderbouwing van een rechtsvordering
special-substantial_public_interest = redenen van zwaarwegend algemeen belang
special-health_care = preventieve geneeskunde of arbeidsgeneeskunde, gezondheidszorg of sociale diensten
special-public_health = redenen van algemeen belang op het gebied van de volksgezondheid
special-archiving = archivering, onderzoek of statistische doeleinden

## Retention in words

span-day = { $n ->
    [one] { $n } dag
   *[other] { $n } dagen
}
span-week = { $n ->
    [one] { $n } week
   *[other] { $n } weken
}
span-month = { $n ->
    [one] { $n } maand
   *[other] { $n } maanden
}
span-year = { $n ->
    [one] { $n } jaar
   *[other] { $n } jaar
}
retention-collection = { $span } na het verzamelen
retention-account_closed = { $span } na opheffing van het account
retention-contract_end = { $span } na het einde van de overeenkomst
retention-last_activity = { $span } na uw laatste activiteit
retention-consent_withdrawn = tot u uw toestemming intrekt, en daarna nog { $span }
retention-account_closed-now = tot de opheffing van het account
retention-contract_end-now = tot het einde van de overeenkomst
retention-last_activity-now = tot u de dienst niet meer gebruikt
retention-consent_withdrawn-now = tot u uw toestemming intrekt
retention-collection-now = uitsluitend voor de duur van het verzamelen
section-retention = Hoe lang wij uw gegevens bewaren
retention-intro = Wij bewaren geen gegevens voor onbepaalde tijd: voor elk doel geldt een eigen termijn, waarna de gegevens worden gewist of geanonimiseerd.
retention-backups = Onze back-ups worden beveiligd met sleutels die wij { $days } dagen na het aanmaken vernietigen: de gegevens van een gewiste persoon kunnen hoogstens { $days } dagen in onze back-ups blijven bestaan, waarna geen enkele back-up nog leesbaar is.

## Recipients and transfers

section-recipients = Wie uw gegevens ontvangt
recipients-intro = Uw gegevens worden verwerkt door onze bevoegde medewerkers en, waar nodig, door:
recipients-none = Wij verstrekken uw gegevens aan niemand buiten onze organisatie.
recipient-line = { $name } ({ $role }, { $country })
role-processor = verwerker die namens ons handelt
role-controller = zelfstandige verwerkingsverantwoordelijke
role-public_authority = overheidsinstantie
section-transfers = Doorgiften buiten de Europese Economische Ruimte
transfers-none = Uw gegevens worden niet doorgegeven naar landen buiten de Europese Economische Ruimte.
transfers-intro = Sommige ontvangers verwerken uw gegevens buiten de Europese Economische Ruimte, met de volgende waarborgen:
transfer-line = { $name } ({ $country }): { $safeguard }.
transfer-reference = Een kopie van de waarborgen is verkrijgbaar via { $reference }.
safeguard-adequacy = adequaatheidsbesluit van de Europese Commissie (art. 45 AVG)
safeguard-scc = door de Europese Commissie vastgestelde modelcontractbepalingen (art. 46 lid 2 sub c AVG)
safeguard-bcr = bindende bedrijfsvoorschriften (art. 47 AVG)
safeguard-code_of_conduct = een goedgekeurde gedragscode (art. 46 lid 2 sub e AVG)
safeguard-certification = een goedgekeurd certificeringsmechanisme (art. 46 lid 2 sub f AVG)
safeguard-derogation = een afwijking voor specifieke situaties (art. 49 AVG)

## Rights

section-rights = Uw rechten
rights-intro = U hebt de volgende rechten met betrekking tot uw persoonsgegevens:
right-access = recht op inzage: weten of wij uw gegevens verwerken en daarvan een kopie krijgen, met informatie over de doeleinden, categorieën, ontvangers, bewaartermijn en bron (art. 15 AVG);
right-rectification = recht op rectificatie: onjuiste gegevens laten corrigeren en onvolledige gegevens laten aanvullen (art. 16 AVG);
right-erasure = recht op gegevenswissing: uw gegevens laten wissen wanneer zij onder meer niet langer nodig zijn, u uw toestemming intrekt of u bezwaar maakt (art. 17 AVG);
right-restriction = recht op beperking van de verwerking: de verwerking laten beperken tot opslag zolang de juistheid van de gegevens of uw bezwaar wordt onderzocht, of in plaats van wissing (art. 18 AVG);
right-portability = recht op overdraagbaarheid: de gegevens die u ons hebt verstrekt in een gestructureerde, gangbare en machineleesbare vorm ontvangen en die laten doorzenden naar een andere verwerkingsverantwoordelijke (art. 20 AVG);
right-objection = recht van bezwaar: op elk moment bezwaar maken tegen verwerking op grond van gerechtvaardigde belangen of van een taak van algemeen belang; tegen direct marketing geldt het bezwaar onvoorwaardelijk (art. 21 AVG);
right-automated = recht om niet te worden onderworpen aan een besluit dat uitsluitend op geautomatiseerde verwerking berust, en om menselijke tussenkomst te verkrijgen (art. 22 AVG);
right-withdraw = recht om uw toestemming op elk moment in te trekken, zonder dat dit afbreuk doet aan de rechtmatigheid van de verwerking vóór de intrekking (art. 7 lid 3 AVG);
right-notification = recht om te worden geïnformeerd over de ontvangers van uw gegevens wanneer wij die gegevens rectificeren, wissen of de verwerking ervan beperken (art. 19 AVG).
rights-how = Om uw rechten uit te oefenen, kunt u contact met ons opnemen:
rights-email = per e-mail aan { $email }
rights-address = per post aan { $address }
rights-portal = via het portaal { $portal }
rights-deadline-days = Wij reageren binnen { $days } dagen na ontvangst van uw verzoek, en in elk geval uiterlijk binnen een maand (art. 12 lid 3 AVG). Bij complexe verzoeken of een groot aantal verzoeken kan deze termijn met nog eens twee maanden worden verlengd; in dat geval laten wij u dat binnen de eerste maand weten, met opgave van redenen.
rights-deadline-month = Wij reageren binnen een maand na ontvangst van uw verzoek (art. 12 lid 3 AVG). Bij complexe verzoeken of een groot aantal verzoeken kan deze termijn met nog eens twee maanden worden verlengd; in dat geval laten wij u dat binnen de eerste maand weten, met opgave van redenen.
rights-free = Het uitoefenen van uw rechten is kosteloos.
section-complaint = Klachten
complaint = Als u van mening bent dat de verwerking van uw gegevens in strijd is met de wet, hebt u het recht een klacht in te dienen bij de toezichthoudende autoriteit, { $authority }, of de zaak aan de rechter voor te leggen.
complaint-website = Website van de autoriteit: { $website }

## Automated decisions, cookies, minors, security, changes

section-automated = Geautomatiseerde besluitvorming en profilering
automated-none = Wij nemen geen besluiten die uitsluitend op geautomatiseerde verwerking, waaronder profilering, berusten en waaraan voor u rechtsgevolgen zijn verbonden of die u anderszins in aanmerkelijke mate treffen.
automated-present = Wij nemen besluiten die uitsluitend op geautomatiseerde verwerking berusten.
automated-logic = De onderliggende logica: { $logic }
automated-significance = Het belang en de gevolgen voor u: { $significance }
section-cookies = Cookies
cookies-intro = Onze websites gebruiken de volgende cookies:
cookie-line = { $name } — { $kind }, geplaatst door { $provider }, { $duration }
cookie-kind-technical = technische cookie
cookie-kind-preferences = voorkeurscookie
cookie-kind-analytics = analytische cookie
cookie-kind-marketing = marketingcookie
cookie-session = geldig voor de duur van de browsersessie
cookie-duration = met een looptijd van { $span }
section-minors = Minderjarigen
minors = Onze diensten zijn bedoeld voor personen van { $age } jaar of ouder; wij verzamelen niet bewust gegevens van jongere personen en wissen dergelijke gegevens zodra wij ze aantreffen.
section-security = Hoe wij uw gegevens beveiligen
section-changes = Wijzigingen in deze verklaring
section-language = Taal
authoritative = Deze verklaring is in meerdere talen gepubliceerd; bij verschillen tussen de versies heeft de versie in het { $language } voorrang.
language-it = Italiaans
language-en = Engels
language-fr = Frans
language-nl = Nederlands

## Countries

country-AT = Oostenrijk
country-BE = België
country-CA = Canada
country-CH = Zwitserland
country-DE = Duitsland
country-ES = Spanje
country-FR = Frankrijk
country-GB = Verenigd Koninkrijk
country-IE = Ierland
country-IL = Israël
country-IT = Italië
country-JP = Japan
country-LU = Luxemburg
country-NL = Nederland
country-NO = Noorwegen
country-PL = Polen
country-PT = Portugal
country-SE = Zweden
country-US = Verenigde Staten

## Names of DPV personal-data terms, used when a field has no label

pd-Name = naam
pd-FirstName = voornaam
pd-LastName = achternaam
pd-EmailAddress = e-mailadres
pd-TelephoneNumber = telefoonnummer
pd-PhysicalAddress = postadres
pd-IPAddress = IP-adres
pd-Username = gebruikersnaam
pd-Password = wachtwoord
pd-DateOfBirth = geboortedatum
pd-Identifier = identificatiecode
pd-OfficialID = identiteitsbewijs
pd-PaymentCardNumber = betaalkaartnummer
pd-BankAccount = bankrekening
pd-Country = land
pd-Language = taal
pd-Picture = foto

## Record of processing activities (Art. 30(1))

ropa-title = Register van verwerkingsactiviteiten
ropa-intro = Bijgehouden door { $controller } op grond van artikel 30 lid 1 AVG. Versie { $version }, van kracht vanaf { $date }.
ropa-a = a) Verwerkingsverantwoordelijke, gezamenlijke verwerkingsverantwoordelijken, vertegenwoordiger en functionaris voor gegevensbescherming
ropa-b = b) Verwerkingsdoeleinden
ropa-c = c) Categorieën van betrokkenen en van persoonsgegevens
ropa-d = d) Categorieën van ontvangers, onder meer in derde landen
ropa-e = e) Doorgiften naar derde landen en de bijbehorende waarborgen
ropa-f = f) Termijnen voor het wissen van de gegevens
ropa-g = g) Technische en organisatorische beveiligingsmaatregelen
ropa-activity = Verwerkingsactiviteit
ropa-basis = Rechtsgrond
ropa-subjects = Betrokkenen
ropa-categories = Persoonsgegevens
ropa-recipients = Ontvangers
ropa-transfers = Doorgiften
ropa-erasure = Wissing
ropa-none = geen
ropa-controller = Verwerkingsverantwoordelijke
ropa-joint = Gezamenlijke verwerkingsverantwoordelijke
ropa-representative = Vertegenwoordiger
ropa-dpo = Functionaris voor gegevensbescherming
ropa-technical = Technische maatregelen
ropa-organisational = Organisatorische maatregelen
ropa-vault = bewaard in het afgescheiden archief

## One-click unsubscribe pages
unsubscribe-title = Afmelden
unsubscribe-confirm = Wilt u geen berichten meer ontvangen voor „{ $purpose }”?
unsubscribe-button = Afmelden
unsubscribe-done = Klaar: u ontvangt geen berichten meer voor „{ $purpose }”. Verder is er niets veranderd.
unsubscribe-unknown = Deze afmeldlink is niet geldig, of de persoon voor wie hij is gemaakt staat niet meer in ons bestand.

## Access (Art. 15) summary
access-title = Uw persoonsgegevens
access-intro = Dit is een kopie van de persoonsgegevens die { $controller } op { $date } over u bewaart (artikel 15 AVG). De bestanden records.json en records.csv bevatten elk gegeven; deze samenvatting vertelt waarom wij ze bewaren, op welke rechtsgrond, wie ze ontvangt, hoe lang wij ze bewaren en welke rechten u hebt.
access-held = De gegevens die wij over u bewaren
access-category = { $category }: { $count ->
    [one] { $count } registratie
   *[other] { $count } registraties
}
access-purposes = Doeleinden en rechtsgrond: { $purposes }
access-retention = Hoe lang wij ze bewaren: { $retention }
access-recipients = Wie ze ontvangt: { $recipients }
access-source = Herkomst: { $source }
access-source-you = van u, of uit uw gebruik van onze diensten
access-none = niemand buiten onze organisatie
access-vault = Wat wij apart bewaren omdat de wet het vereist
access-vault-line = { $category }: { $count } registraties, bewaard in een gescheiden archief omdat de wet het vereist ({ $law }), tot { $until }.
access-vault-given = De inhoud staat in records.json en records.csv.
access-vault-withheld = Wij verstrekken de inhoud niet met dit antwoord: { $reason }
access-vault-withheld-default = de wet die ons verplicht ze te bewaren staat het gebruik ervan alleen toe voor het doel dat zij noemt, en kan de verstrekking ervan beperken (art. 23 AVG). U kunt onze functionaris voor gegevensbescherming vragen dit te herzien.
answer-vault-title = Wat wij apart bewaren omdat de wet het vereist
access-notice = Al het andere dat wij iedereen vertellen: onze privacyverklaring

## Antwoorden op verzoeken en verificatiecodes
answer-title = Antwoord op uw verzoek { $request }
answer-intro = { $controller }, { $date }.
answer-accepted = Wij hebben uw verzoek uitgevoerd.
answer-partially_accepted = Wij hebben uw verzoek gedeeltelijk uitgevoerd; voor de rest staan de redenen hieronder.
answer-refused = Wij kunnen uw verzoek niet uitvoeren, om de redenen hieronder.
answer-nothing-held = Wij verwerken geen persoonsgegevens over u: wij hebben in onze administratie en in de systemen waarin wij klantgegevens bewaren gezocht op de identificatie die u opgaf, en niets gevonden (art. 15 AVG).
answer-reasons = Redenen: { $reasons }
answer-done = Wat wij hebben gedaan
answer-erased = { $count ->
    [one] Wij hebben { $count } registratie gewist.
   *[other] Wij hebben { $count } registraties gewist.
}
answer-kept-title = Wat wij bewaren, en waarom
answer-kept = { $category }: { $count ->
    [one] { $count } registratie
   *[other] { $count } registraties
}, bewaard omdat de wet dat eist ({ $grounds }), tot { $until }; voor niets anders gebruikt.
answer-kept-vault = { $category }: { $count ->
    [one] { $count } registratie
   *[other] { $count } registraties
}, bewaard in een afgescheiden archief omdat de wet dat eist ({ $grounds }), tot { $until }; alleen verstrekt aan de rechterlijke macht op een gemotiveerd bevel.
answer-kept-fields = Alleen deze velden worden bewaard: { $fields }; de andere zijn gewist.
answer-until-open = het einde van de termijn die de wet stelt
answer-told = Wij hebben de ontvangers die uw gegevens hadden ontvangen van deze wijziging op de hoogte gebracht (art. 19 AVG):
code-subject = { $controller }: uw verificatiecode
code-body = Uw code om uw verzoek { $request } te bevestigen is { $code }. Hij werkt één keer en verloopt om { $expires }. Heeft u dit verzoek niet gedaan, negeer dan dit bericht en laat het ons weten.
restriction-lift-subject = { $controller }: de beperking van uw gegevens eindigt
restriction-lift-body = De beperking van de verwerking van uw persoonsgegevens, die u op grond van artikel 18 AVG hebt verkregen, wordt opgeheven om deze reden: { $reason }. U kunt bezwaar maken, of om een nieuwe beperking vragen, door op dit bericht te antwoorden of via de contactgegevens in onze privacyverklaring.
extension-subject = { $controller }: meer tijd voor uw verzoek { $request }
extension-body = Wij hebben meer tijd nodig om uw verzoek { $request } te beantwoorden, om deze reden: { $reason }. Artikel 12, lid 3, AVG staat twee extra maanden toe: wij antwoorden uiterlijk op { $due }.
answer-told-line = { $recipient }, op { $date }
answer-told-pending = Wij brengen deze ontvangers, die uw gegevens hadden ontvangen, op de hoogte (art. 19 AVG); op de datum van dit antwoord was de kennisgeving nog niet bevestigd:
answer-told-none = Uw gegevens waren niet verstrekt aan ontvangers die van deze wijziging op de hoogte moeten worden gebracht (art. 19 AVG).
recipient-notice-subject = { $controller }: { $action ->
    [erasure] wissing
    [rectification] rectificatie
   *[restriction] beperking van de verwerking
} van persoonsgegevens (art. 19 AVG), referentie { $request }
recipient-notice-body = Wij hebben u persoonsgegevens verstrekt van de betrokkene met onze referentie { $subject }. Op zijn of haar verzoek ({ $request }) hebben wij { $action ->
    [erasure] de gegevens gewist
    [rectification] de gegevens gerectificeerd
   *[restriction] de verwerking van de gegevens beperkt
} in deze categorieën: { $categories }. Op grond van artikel 19 AVG laten wij u dit weten, zodat u hetzelfde doet met de gegevens die u van ons hebt ontvangen. Met vragen kunt u op dit bericht antwoorden.

## Inactivity rules of subject kinds (policy: close_after_inactivity)

retention-inactivity = { $subjects }: een account dat { $span } niet is gebruikt, wordt gesloten, en vanaf dat moment lopen de termijnen die vanaf de sluiting van het account worden berekend.
portal-code-subject = { $controller }: uw code voor het privacyportaal
portal-code-body = Uw code om uw privacyportaal te openen: { $code }. Hij werkt één keer en verloopt op { $expires }. Hebt u er niet om gevraagd, negeer dan dit bericht.
