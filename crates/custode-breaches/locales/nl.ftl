# Het register van inbreuken: de melding aan de toezichthouder (art. 33,
# lid 3) en de mededeling aan de betrokkenen (art. 34).

notice-title = Melding van een inbreuk in verband met persoonsgegevens
notice-title-telecom = Melding van een inbreuk in verband met persoonsgegevens (Verordening 611/2013)
notice-breach = Inbreuk { $id }, versie { $version } van de registratie
controller = Verwerkingsverantwoordelijke
contact = Contactpunt voor meer informatie (art. 33, lid 3, onder b)
timeline = Tijdlijn
detected = Ontdekt
aware = Kennis genomen
deadline = Termijn voor deze melding
rule-other = 72 uur na kennisname (art. 33, lid 1, AVG)
rule-electronic_communications = 24 uur na ontdekking (art. 2, lid 2, Verordening 611/2013)
notified = Gemeld
not-notified = Nog niet gemeld
follow-up = Aanvullende melding
late-reason = Redenen voor de vertraging
nature = Aard van de inbreuk (art. 33, lid 3, onder a)
nature-confidentiality = Vertrouwelijkheid: gegevens zonder toestemming verstrekt of ingezien
nature-integrity = Integriteit: gegevens zonder toestemming gewijzigd
nature-availability = Beschikbaarheid: gegevens verloren of onbereikbaar geworden
description = Wat er is gebeurd
systems = Betrokken systemen
concerned = Betrokken gegevens en personen
data-categories = Categorieën van gegevens
subject-kinds = Categorieën van betrokkenen
approx = Opgegeven aantallen bij benadering: { $subjects } betrokkenen, { $records } registraties
computed = Berekend uit de bewaarde gegevens, op { $date }: { $subjects } betrokkenen en { $records } registraties
column-tenant = Klant
column-category = Categorie
column-people = Betrokkenen
column-records = Registraties
consequences = Waarschijnlijke gevolgen (art. 33, lid 3, onder c)
measures-taken = Genomen maatregelen (art. 33, lid 3, onder d)
measures-proposed = Voorgestelde maatregelen (art. 33, lid 3, onder d)
people = Mededeling aan de betrokkenen (art. 34)
people-told = { $count } betrokkenen zijn persoonlijk ingelicht.
people-not-yet = De betrokkenen zijn nog niet persoonlijk ingelicht.
exemption-unintelligible = Zij worden niet persoonlijk ingelicht: de gegevens zijn onbegrijpelijk voor iedereen die niet gemachtigd is om ze in te zien (art. 34, lid 3, onder a).
exemption-risk_no_longer_likely = Zij worden niet persoonlijk ingelicht: achteraf genomen maatregelen zorgen ervoor dat het hoge risico zich waarschijnlijk niet meer zal voordoen (art. 34, lid 3, onder b).
exemption-disproportionate_effort = Zij worden niet persoonlijk ingelicht, wat een onevenredige inspanning zou vergen: een openbare mededeling licht hen even doeltreffend in (art. 34, lid 3, onder c).
public-notice = Openbare mededeling
unknown = onbekend
none = geen
person-subject = { $controller }: een inbreuk die uw persoonsgegevens betreft
person-body =
    Geachte klant,

    op { $date } hebben wij kennisgenomen van een inbreuk op de beveiliging die persoonsgegevens betreft die wij over u bewaren.

    Wat er is gebeurd: { $description }

    Betrokken gegevens: { $categories }

    Waarschijnlijke gevolgen: { $consequences }

    Wat wij hebben gedaan en zullen doen: { $measures }

    Voor meer informatie kunt u contact opnemen met { $contact }. U kunt ook een klacht indienen bij { $authority }.

    { $controller }
