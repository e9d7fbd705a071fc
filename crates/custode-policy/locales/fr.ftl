# Custode privacy notice and record of processing — French catalogue.
# Every message id here must exist in en.ftl, it.ftl and nl.ftl (a test checks).
# Variables are filled in by the renderer; texts from the policy file arrive
# already in this language.

## Document

notice-title = Politique de confidentialité
notice-intro = La présente politique explique comment { $controller } traite vos données à caractère personnel, pour quelles raisons, sur quelle base juridique et pendant combien de temps, ainsi que les droits dont vous disposez (articles 13 et 14 du règlement (UE) 2016/679, ci-après le « RGPD »).
notice-version = Version { $version }, en vigueur à compter du { $date }.
date = { $day ->
    [1] 1er
   *[other] { $day }
} { $month } { $year }
month-1 = janvier
month-2 = février
month-3 = mars
month-4 = avril
month-5 = mai
month-6 = juin
month-7 = juillet
month-8 = août
month-9 = septembre
month-10 = octobre
month-11 = novembre
month-12 = décembre

## Contacts

section-controller = Qui est responsable du traitement de vos données
controller-intro = Le responsable du traitement de vos données à caractère personnel est :
label-address = Adresse
label-email = Courriel
label-phone = Téléphone
label-tax-id = Numéro de TVA / identifiant fiscal
label-website = Site internet
labelled = { $label } : { $value }
section-joint = Responsables conjoints du traitement
joint-intro = { $name } détermine conjointement avec nous la manière dont vos données sont traitées. { $responsibilities }
section-representative = Représentant dans l'Union européenne
representative-intro = Notre représentant dans l'Union européenne (art. 27 du RGPD) est :
section-dpo = Délégué à la protection des données
dpo-intro = Vous pouvez contacter notre délégué à la protection des données pour toute question relative à vos données à caractère personnel et à vos droits :
dpo-none = Nous n'avons pas désigné de délégué à la protection des données ; adressez-vous au responsable du traitement aux coordonnées indiquées ci-dessus.

## Data

section-data = Les données que nous traitons
category-fields = Données : { $fields }.
category-from-you = Ces données sont collectées directement auprès de vous.
category-source = Source : { $source }
category-special = Il s'agit de catégories particulières de données à caractère personnel (art. 9 du RGPD).
requirement-voluntary = La fourniture de ces données est facultative.
requirement-contractual = La fourniture de ces données est une exigence contractuelle. { $consequence }
requirement-contract_precondition = La fourniture de ces données est nécessaire à la conclusion du contrat. { $consequence }
requirement-statutory = La fourniture de ces données est exigée par la loi. { $consequence }

## Purposes

section-purposes = Pourquoi nous traitons vos données et sur quelle base juridique
purpose-basis = Base juridique : { $basis }.
basis-consent = votre consentement (art. 6, paragraphe 1, point a), du RGPD)
basis-contract = l'exécution d'un contrat conclu avec vous ou de mesures précontractuelles prises à votre demande (art. 6, paragraphe 1, point b), du RGPD)
basis-legal_obligation = le respect d'une obligation légale à laquelle nous sommes soumis (art. 6, paragraphe 1, point c), du RGPD)
basis-vital_interests = la sauvegarde de vos intérêts vitaux ou de ceux d'une autre personne physique (art. 6, paragraphe 1, point d), du RGPD)
basis-public_task = l'exécution d'une mission d'intérêt public (art. 6, paragraphe 1, point e), du RGPD)
basis-legitimate_interests = nos intérêts légitimes (art. 6, paragraphe 1, point f), du RGPD)
purpose-law = L'obligation est imposée par : { $law }
purpose-interest = Intérêt légitime poursuivi : { $interest }
purpose-withdrawal = Vous pouvez retirer votre consentement à tout moment, aussi simplement que vous l'avez donné. { $how } Le retrait du consentement ne compromet pas la licéité du traitement fondé sur le consentement effectué avant ce retrait.
purpose-categories = Données utilisées : { $list }.
purpose-subjects = Personnes concernées : { $list }.
purpose-retention = Durée de conservation : { $retention }.
purpose-recipients = Destinataires : { $list }.
purpose-no-recipients = Ces données ne sont communiquées à personne.
purpose-vault = Nous conservons ces données uniquement parce que la loi l'exige, dans une archive cloisonnée hébergée sur des systèmes distincts, accessible uniquement au moyen d'une authentification forte, chaque accès étant journalisé et contrôlé ; elles ne sont communiquées qu'à l'autorité judiciaire, sur décision motivée.
purpose-marketing = Vous pouvez vous opposer à tout moment à cette utilisation, sans avoir à vous justifier : nous y mettons alors fin immédiatement.
purpose-special = Les catégories particulières de données sont traitées sur le fondement de l'article 9, paragraphe 2, point { $letter }), du RGPD : { $condition }.
special-explicit_consent = votre consentement explicite
special-employment = les obligations en matière de droit du travail et de droit de la sécurité sociale
special-vital_interests = la sauvegarde des intérêts vitaux d'une personne dans l'incapacité de donner son consentement
special-not_for_profit = les activités légitimes d'un organisme à but non lucratif
special-made_public = des données que vous avez manifestement rendues publiques
special-legal_claims = la constatation, l'exercice ou la défense de droits en justice
special-substantial_public_interest = des motifs d'intérêt public important
special-health_care = la médecine préventive ou la médecine du travail, ou la prise en charge sanitaire ou sociale
special-public_health = des motifs d'intérêt public dans le domaine de la santé publique
special-archiving = des fins archivistiques, de recherche ou statistiques

## Retention in words

span-day = { $n ->
    [one] { $n } jour
   *[other] { $n } jours
}
span-week = { $n ->
    [one] { $n } semaine
   *[other] { $n } semaines
}
span-month = { $n ->
    [one] { $n } mois
   *[other] { $n } mois
}
span-year = { $n ->
    [one] { $n } an
   *[other] { $n } ans
}
retention-collection = { $span } à compter de la collecte
retention-account_closed = { $span } après la clôture du compte
retention-contract_end = { $span } après la fin du contrat
retention-last_activity = { $span } après votre dernière activité
retention-consent_withdrawn = jusqu'au retrait de votre consentement, puis pendant { $span }
retention-account_closed-now = jusqu'à la clôture du compte
retention-contract_end-now = jusqu'à la fin du contrat
retention-last_activity-now = jusqu'à ce que vous cessiez d'utiliser le service
retention-consent_withdrawn-now = jusqu'au retrait de votre consentement
retention-collection-now = uniquement le temps de la collecte
section-retention = Durée de conservation de vos données
retention-intro = Aucune donnée n'est conservée indéfiniment : chaque finalité a sa propre durée de conservation, à l'issue de laquelle les données sont effacées ou anonymisées.
retention-backups = Nos sauvegardes sont protégées par des clés que nous détruisons { $days } jours après leur création : les données d'une personne effacée peuvent subsister dans nos sauvegardes pendant au plus { $days } jours, après quoi aucune sauvegarde n'est plus lisible.

## Recipients and transfers

section-recipients = Destinataires de vos données
recipients-intro = Vos données sont traitées par notre personnel habilité et, si nécessaire, par :
recipients-none = Nous ne communiquons vos données à personne en dehors de notre organisation.
recipient-line = { $name } ({ $role }, { $country })
role-processor = sous-traitant agissant pour notre compte
role-controller = responsable du traitement indépendant
role-public_authority = autorité publique
section-transfers = Transferts hors de l'Espace économique européen
transfers-none = Vos données ne sont pas transférées hors de l'Espace économique européen.
transfers-intro = Certains destinataires traitent vos données hors de l'Espace économique européen, avec les garanties suivantes :
transfer-line = { $name } ({ $country }) : { $safeguard }.
transfer-reference = Une copie de ces garanties peut être obtenue à l'adresse { $reference }.
safeguard-adequacy = décision d'adéquation de la Commission européenne (art. 45 du RGPD)
safeguard-scc = clauses contractuelles types adoptées par la Commission européenne (art. 46, paragraphe 2, point c), du RGPD)
safeguard-bcr = règles d'entreprise contraignantes (art. 47 du RGPD)
safeguard-code_of_conduct = un code de conduite approuvé (art. 46, paragraphe 2, point e), du RGPD)
safeguard-certification = un mécanisme de certification approuvé (art. 46, paragraphe 2, point f), du RGPD)
safeguard-derogation = une dérogation pour des situations particulières (art. 49 du RGPD)

## Rights

section-rights = Vos droits
rights-intro = Vous disposez des droits suivants sur vos données à caractère personnel :
right-access = droit d'accès : savoir si nous traitons vos données et en obtenir une copie, accompagnée des informations sur les finalités, les catégories de données, les destinataires, la durée de conservation et la source (art. 15 du RGPD) ;
right-rectification = droit de rectification : faire corriger les données inexactes et compléter les données incomplètes (art. 16 du RGPD) ;
right-erasure = droit à l'effacement : obtenir l'effacement de vos données lorsque, notamment, elles ne sont plus nécessaires, que vous retirez votre consentement ou que vous vous opposez au traitement (art. 17 du RGPD) ;
right-restriction = droit à la limitation du traitement : obtenir que le traitement soit limité à la conservation des données pendant la vérification de leur exactitude ou de votre opposition, ou au lieu de leur effacement (art. 18 du RGPD) ;
right-portability = droit à la portabilité : recevoir les données que vous nous avez fournies dans un format structuré, couramment utilisé et lisible par machine, et les faire transmettre à un autre responsable du traitement (art. 20 du RGPD) ;
right-objection = droit d'opposition : vous opposer à tout moment au traitement fondé sur nos intérêts légitimes ou sur une mission d'intérêt public ; en matière de prospection, l'opposition est absolue (art. 21 du RGPD) ;
right-automated = droit de ne pas faire l'objet d'une décision fondée exclusivement sur un traitement automatisé, et d'obtenir une intervention humaine (art. 22 du RGPD) ;
right-withdraw = droit de retirer votre consentement à tout moment, sans que soit compromise la licéité du traitement effectué avant ce retrait (art. 7, paragraphe 3, du RGPD) ;
right-notification = droit de connaître les destinataires de vos données lorsque nous les rectifions, les effaçons ou en limitons le traitement (art. 19 du RGPD).
rights-how = Pour exercer vos droits, contactez-nous :
rights-email = par courriel à l'adresse { $email }
rights-address = par courrier postal à l'adresse { $address }
rights-portal = via le portail { $portal }
rights-deadline-days = Nous répondons dans un délai de { $days } jours à compter de la réception de votre demande, et en tout état de cause dans un délai maximal d'un mois (art. 12, paragraphe 3, du RGPD). Pour les demandes complexes ou nombreuses, ce délai peut être prolongé de deux mois ; nous vous en informons dans le premier mois, en indiquant les motifs de la prolongation.
rights-deadline-month = Nous répondons dans un délai d'un mois à compter de la réception de votre demande (art. 12, paragraphe 3, du RGPD). Pour les demandes complexes ou nombreuses, ce délai peut être prolongé de deux mois ; nous vous en informons dans le premier mois, en indiquant les motifs de la prolongation.
rights-free = L'exercice de vos droits est gratuit.
section-complaint = Réclamations
complaint = Si vous estimez que le traitement de vos données constitue une violation de la réglementation, vous avez le droit d'introduire une réclamation auprès de l'autorité de contrôle, { $authority }, ou de former un recours juridictionnel.
complaint-website = Site internet de l'autorité : { $website }

## Automated decisions, cookies, minors, security, changes

section-automated = Décisions automatisées et profilage
automated-none = Nous ne prenons aucune décision fondée exclusivement sur un traitement automatisé, y compris le profilage, produisant des effets juridiques vous concernant ou vous affectant de manière significative de façon similaire.
automated-present = Nous prenons des décisions fondées exclusivement sur un traitement automatisé.
automated-logic = Logique sous-jacente : { $logic }
automated-significance = Importance et conséquences pour vous : { $significance }
section-cookies = Cookies
cookies-intro = Nos sites internet utilisent les cookies suivants :
cookie-line = { $name } — { $kind }, déposé par { $provider }, { $duration }
cookie-kind-technical = cookie technique
cookie-kind-preferences = cookie de préférences
cookie-kind-analytics = cookie de mesure d'audience
cookie-kind-marketing = cookie publicitaire
cookie-session = pour la durée de la session de navigation
cookie-duration = d'une durée de { $span }
section-minors = Mineurs
minors = Nos services s'adressent aux personnes âgées de { $age } ans ou plus ; nous ne collectons pas sciemment de données concernant des personnes plus jeunes et effaçons celles que nous découvrons.
section-security = Comment nous protégeons vos données
section-changes = Modifications de la présente politique
section-language = Langue
authoritative = La présente politique est publiée en plusieurs langues ; en cas de divergence, la version en { $language } prévaut.
language-it = italien
language-en = anglais
language-fr = français
language-nl = néerlandais

## Countries

country-AT = Autriche
country-BE = Belgique
country-CA = Canada
country-CH = Suisse
country-DE = Allemagne
country-ES = Espagne
country-FR = France
country-GB = Royaume-Uni
country-IE = Irlande
country-IL = Israël
country-IT = Italie
country-JP = Japon
country-LU = Luxembourg
country-NL = Pays-Bas
country-NO = Norvège
country-PL = Pologne
country-PT = Portugal
country-SE = Suède
country-US = États-Unis

## Names of DPV personal-data terms, used when a field has no label

pd-Name = nom
pd-FirstName = prénom
pd-LastName = nom de famille
pd-EmailAddress = adresse électronique
pd-TelephoneNumber = numéro de téléphone
pd-PhysicalAddress = adresse postale
pd-IPAddress = adresse IP
pd-Username = nom d'utilisateur
pd-Password = mot de passe
pd-DateOfBirth = date de naissance
pd-Identifier = identifiant
pd-OfficialID = pièce d'identité
pd-PaymentCardNumber = numéro de carte de paiement
pd-BankAccount = compte bancaire
pd-Country = pays
pd-Language = langue
pd-Picture = photographie

## Record of processing activities (Art. 30(1))

ropa-title = Registre des activités de traitement
ropa-intro = Tenu par { $controller } en application de l'article 30, paragraphe 1, du RGPD. Version { $version }, en vigueur à compter du { $date }.
ropa-a = a) Responsable du traitement, responsables conjoints du traitement, représentant et délégué à la protection des données
ropa-b = b) Finalités du traitement
ropa-c = c) Catégories de personnes concernées et catégories de données à caractère personnel
ropa-d = d) Catégories de destinataires, y compris les destinataires établis dans des pays tiers
ropa-e = e) Transferts vers des pays tiers et garanties correspondantes
ropa-f = f) Délais prévus pour l'effacement
ropa-g = g) Mesures de sécurité techniques et organisationnelles
ropa-activity = Activité de traitement
ropa-basis = Base juridique
ropa-subjects = Personnes concernées
ropa-categories = Données à caractère personnel
ropa-recipients = Destinataires
ropa-transfers = Transferts
ropa-erasure = Effacement
ropa-none = néant
ropa-controller = Responsable du traitement
ropa-joint = Responsable conjoint du traitement
ropa-representative = Représentant
ropa-dpo = Délégué à la protection des données
ropa-technical = Mesures techniques
ropa-organisational = Mesures organisationnelles
ropa-vault = conservation dans l'archive cloisonnée

## One-click unsubscribe pages
unsubscribe-title = Se désabonner
unsubscribe-confirm = Voulez-vous ne plus recevoir de messages pour « { $purpose } » ?
unsubscribe-button = Se désabonner
unsubscribe-done = C'est fait : vous ne recevrez plus de messages pour « { $purpose } ». Rien d'autre n'a changé.
unsubscribe-unknown = Ce lien de désabonnement n'est pas valide, ou la personne pour qui il a été créé ne figure plus dans nos fichiers.

## Access (Art. 15) summary
access-title = Vos données personnelles
access-intro = Voici une copie des données personnelles que { $controller } détient à votre sujet au { $date } (article 15 du RGPD). Les fichiers records.json et records.csv contiennent chaque donnée ; ce résumé indique pourquoi nous les détenons, sur quelle base juridique, qui les reçoit, combien de temps nous les conservons et quels sont vos droits.
access-held = Les données que nous détenons à votre sujet
access-category = { $category } : { $count ->
    [one] { $count } enregistrement
   *[other] { $count } enregistrements
}
access-purposes = Finalités et base juridique : { $purposes }
access-retention = Durée de conservation : { $retention }
access-recipients = Destinataires : { $recipients }
access-source = Origine : { $source }
access-source-you = vous-même, ou votre utilisation de nos services
access-none = personne en dehors de notre organisation
access-vault = Ce que nous conservons à part parce que la loi l'exige
access-vault-line = { $category } : { $count } enregistrements, conservés dans une archive séparée parce que la loi l'exige ({ $law }), jusqu'au { $until }.
access-vault-given = Leur contenu figure dans records.json et records.csv.
access-vault-withheld = Nous ne communiquons pas leur contenu avec cette réponse : { $reason }
access-vault-withheld-default = la loi qui nous oblige à les conserver n'en permet l'usage qu'à la fin qu'elle indique, et peut en restreindre la communication (art. 23 du RGPD). Vous pouvez demander à notre délégué à la protection des données de réexaminer ce choix.
answer-vault-title = Ce que nous conservons à part parce que la loi l'exige
access-notice = Tout ce que nous disons à chacun : notre politique de confidentialité

## Réponses aux demandes d'exercice des droits et codes de vérification
answer-title = Réponse à votre demande { $request }
answer-intro = { $controller }, { $date }.
answer-accepted = Nous avons donné suite à votre demande.
answer-partially_accepted = Nous avons donné suite à votre demande en partie ; pour le reste, les motifs figurent ci-dessous.
answer-refused = Nous ne pouvons pas donner suite à votre demande, pour les motifs ci-dessous.
answer-nothing-held = Nous ne détenons aucune donnée personnelle vous concernant : nous avons cherché dans nos registres et dans les systèmes où nous conservons les données des clients avec l'identifiant que vous avez indiqué, sans rien trouver (art. 15 RGPD).
answer-reasons = Motifs : { $reasons }
answer-done = Ce que nous avons fait
answer-erased = { $count ->
    [one] Nous avons effacé { $count } enregistrement.
   *[other] Nous avons effacé { $count } enregistrements.
}
answer-kept-title = Ce que nous conservons, et pourquoi
answer-kept = { $category } : { $count ->
    [one] { $count } enregistrement, conservé
   *[other] { $count } enregistrements, conservés
} parce que la loi l'exige ({ $grounds }), jusqu'au { $until } ; { $count ->
    [one] utilisé
   *[other] utilisés
} à aucune autre fin.
answer-kept-vault = { $category } : { $count ->
    [one] { $count } enregistrement, conservé
   *[other] { $count } enregistrements, conservés
} dans une archive séparée parce que la loi l'exige ({ $grounds }), jusqu'au { $until } ; { $count ->
    [one] communiqué
   *[other] communiqués
} uniquement à l'autorité judiciaire sur décision motivée.
answer-kept-fields = Seuls ces champs sont conservés : { $fields } ; les autres sont effacés.
answer-until-open = la fin de la durée fixée par la loi
answer-told = Nous avons informé de ce changement les destinataires qui avaient reçu vos données (art. 19 RGPD) :
code-subject = { $controller } : votre code de vérification
code-body = Votre code pour confirmer votre demande { $request } est { $code }. Il ne sert qu'une fois et expire à { $expires }. Si vous n'avez pas fait cette demande, ignorez ce message et prévenez-nous.
restriction-lift-subject = { $controller } : fin de la limitation de vos données
restriction-lift-body = La limitation du traitement de vos données personnelles, que vous avez obtenue au titre de l'article 18 du RGPD, est levée pour ce motif : { $reason }. Vous pouvez vous y opposer, ou demander une nouvelle limitation, en répondant à ce message ou par les contacts indiqués dans notre politique de confidentialité.
extension-subject = { $controller } : un délai supplémentaire pour votre demande { $request }
extension-body = Il nous faut plus de temps pour répondre à votre demande { $request }, pour ce motif : { $reason }. L'article 12, paragraphe 3, du RGPD permet deux mois supplémentaires : nous répondrons au plus tard le { $due }.
answer-told-line = { $recipient }, le { $date }
answer-told-pending = Nous informons ces destinataires, qui avaient reçu vos données (art. 19 RGPD) ; à la date de cette réponse, la notification n'était pas encore confirmée :
answer-told-none = Vos données n'avaient été communiquées à aucun destinataire à informer de ce changement (art. 19 RGPD).
recipient-notice-subject = { $controller } : { $action ->
    [erasure] effacement
    [rectification] rectification
   *[restriction] limitation du traitement
} de données personnelles (art. 19 RGPD), référence { $request }
recipient-notice-body = Nous vous avons communiqué des données personnelles de la personne concernée portant notre référence { $subject }. À sa demande ({ $request }), nous avons { $action ->
    [erasure] effacé ses données
    [rectification] rectifié ses données
   *[restriction] limité le traitement de ses données
} de ces catégories : { $categories }. Conformément à l'article 19 du RGPD, nous vous en informons afin que vous fassiez de même avec les données que vous avez reçues de nous. Pour toute question, répondez à ce message.

## Inactivity rules of subject kinds (policy: close_after_inactivity)

retention-inactivity = { $subjects } : un compte inutilisé pendant { $span } est fermé, et les durées comptées à partir de la fermeture du compte courent dès lors.
portal-code-subject = { $controller } : votre code pour le portail de confidentialité
portal-code-body = Votre code pour ouvrir votre portail de confidentialité : { $code }. Il ne sert qu’une fois et expire le { $expires }. Si vous ne l’avez pas demandé, ignorez ce message.
