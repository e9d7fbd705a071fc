# Le registre des violations : la notification à l'autorité (art. 33,
# paragraphe 3) et la communication aux personnes concernées (art. 34).

notice-title = Notification d'une violation de données à caractère personnel
notice-title-telecom = Notification d'une violation de données à caractère personnel (règlement 611/2013)
notice-breach = Violation { $id }, version { $version } de la fiche
controller = Responsable du traitement
contact = Point de contact pour obtenir des informations supplémentaires (art. 33, paragraphe 3, point b)
timeline = Chronologie
detected = Détectée
aware = Prise de connaissance
deadline = Délai de cette notification
rule-other = 72 heures après en avoir pris connaissance (art. 33, paragraphe 1, RGPD)
rule-electronic_communications = 24 heures après la détection (art. 2, paragraphe 2, règlement 611/2013)
notified = Notifiée
not-notified = Pas encore notifiée
follow-up = Notification complémentaire
late-reason = Motifs du retard
nature = Nature de la violation (art. 33, paragraphe 3, point a)
nature-confidentiality = Confidentialité : données divulguées ou consultées sans autorisation
nature-integrity = Intégrité : données modifiées sans autorisation
nature-availability = Disponibilité : données perdues ou rendues inaccessibles
description = Ce qui s'est passé
systems = Systèmes concernés
concerned = Données et personnes concernées
data-categories = Catégories de données
subject-kinds = Catégories de personnes
approx = Nombres approximatifs déclarés : { $subjects } personnes, { $records } enregistrements
computed = Calculés à partir des données détenues, le { $date } : { $subjects } personnes et { $records } enregistrements
column-tenant = Client
column-category = Catégorie
column-people = Personnes
column-records = Enregistrements
consequences = Conséquences probables (art. 33, paragraphe 3, point c)
measures-taken = Mesures prises (art. 33, paragraphe 3, point d)
measures-proposed = Mesures proposées (art. 33, paragraphe 3, point d)
people = Communication aux personnes concernées (art. 34)
people-told = { $count } personnes ont été informées individuellement.
people-not-yet = Les personnes concernées n'ont pas encore été informées individuellement.
exemption-unintelligible = Elles ne sont pas informées individuellement : les données sont incompréhensibles pour toute personne non autorisée à y avoir accès (art. 34, paragraphe 3, point a).
exemption-risk_no_longer_likely = Elles ne sont pas informées individuellement : les mesures prises ultérieurement garantissent que le risque élevé n'est plus susceptible de se matérialiser (art. 34, paragraphe 3, point b).
exemption-disproportionate_effort = Elles ne sont pas informées individuellement, ce qui exigerait des efforts disproportionnés : une communication publique les informe de manière aussi efficace (art. 34, paragraphe 3, point c).
public-notice = Communication publique
unknown = inconnu
none = aucune
person-subject = { $controller } : une violation concernant vos données personnelles
person-body =
    Madame, Monsieur,

    le { $date }, nous avons pris connaissance d'une violation de la sécurité concernant des données personnelles que nous détenons à votre sujet.

    Ce qui s'est passé : { $description }

    Données concernées : { $categories }

    Conséquences probables : { $consequences }

    Ce que nous avons fait et ferons : { $measures }

    Pour plus d'informations, contactez { $contact }. Vous pouvez également introduire une réclamation auprès de { $authority }.

    { $controller }
