# Custode privacy notice and record of processing — English catalogue.
# Every message id here must exist in it.ftl, fr.ftl and nl.ftl (a test checks).
# Variables are filled in by the renderer; texts from the policy file arrive
# already in this language.

## Document

notice-title = Privacy notice
notice-intro = This notice explains how { $controller } processes your personal data, why, on what legal basis, for how long, and which rights you have (Articles 13 and 14 of Regulation (EU) 2016/679, the GDPR).
notice-version = Version { $version }, in force from { $date }.
date = { $day } { $month } { $year }
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December

## Contacts

section-controller = Who is responsible for your data
controller-intro = The controller of your personal data is:
label-address = Address
label-email = E-mail
label-phone = Telephone
label-tax-id = VAT / tax number
label-website = Website
labelled = { $label }: { $value }
section-joint = Joint controllers
joint-intro = { $name } decides with us how your data are processed. { $responsibilities }
section-representative = Representative in the European Union
representative-intro = Our representative in the European Union (Art. 27 GDPR) is:
section-dpo = Data protection officer
dpo-intro = You can contact our data protection officer about any question on your personal data and your rights:
dpo-none = We have not designated a data protection officer; write to the controller at the contacts above.

## Data

section-data = The data we process
category-fields = Data: { $fields }.
category-from-you = We collect these data from you.
category-source = Source: { $source }
category-special = These are special categories of data (Art. 9 GDPR).
requirement-voluntary = Giving these data is optional.
requirement-contractual = Giving these data is a contractual requirement. { $consequence }
requirement-contract_precondition = Giving these data is necessary to enter into the contract. { $consequence }
requirement-statutory = Giving these data is required by law. { $consequence }

## Purposes

section-purposes = Why we process your data, and on what legal basis
purpose-basis = Legal basis: { $basis }.
basis-consent = your consent (Art. 6(1)(a) GDPR)
basis-contract = the performance of a contract with you, or steps you asked for before entering into it (Art. 6(1)(b) GDPR)
basis-legal_obligation = compliance with a legal obligation to which we are subject (Art. 6(1)(c) GDPR)
basis-vital_interests = the protection of your vital interests or those of another person (Art. 6(1)(d) GDPR)
basis-public_task = the performance of a task carried out in the public interest (Art. 6(1)(e) GDPR)
basis-legitimate_interests = our legitimate interests (Art. 6(1)(f) GDPR)
purpose-law = The obligation is imposed by: { $law }
purpose-interest = The legitimate interest we pursue: { $interest }
purpose-withdrawal = You may withdraw your consent at any time, as easily as you gave it. { $how } Withdrawal does not affect the lawfulness of processing based on consent before its withdrawal.
purpose-categories = Data used: { $list }.
purpose-subjects = Concerns: { $list }.
purpose-retention = Retention: { $retention }.
purpose-recipients = Recipients: { $list }.
purpose-no-recipients = These data are not disclosed to anyone.
purpose-vault = We keep these data only because the law requires it, in a segregated archive on separate systems, reached only with strong authentication, with every access logged and reviewed; they are disclosed only to the judicial authority on a reasoned order.
purpose-marketing = You may object to this use at any time, without giving reasons: we then stop at once.
purpose-special = Special categories of data are processed under Art. 9(2)({ $letter }) GDPR: { $condition }.
special-explicit_consent = your explicit consent
special-employment = obligations in the field of employment and social security law
special-vital_interests = the protection of vital interests of a person unable to give consent
special-not_for_profit = the legitimate activities of a not-for-profit body
special-made_public = data you have manifestly made public
special-legal_claims = the establishment, exercise or defence of legal claims
special-substantial_public_interest = reasons of substantial public interest
special-health_care = preventive or occupational medicine, health or social care
special-public_health = reasons of public interest in the area of public health
special-archiving = archiving, research or statistical purposes

## Retention in words

span-day = { $n ->
    [one] { $n } day
   *[other] { $n } days
}
span-week = { $n ->
    [one] { $n } week
   *[other] { $n } weeks
}
span-month = { $n ->
    [one] { $n } month
   *[other] { $n } months
}
span-year = { $n ->
    [one] { $n } year
   *[other] { $n } years
}
retention-collection = { $span } from collection
retention-account_closed = { $span } after the account is closed
retention-contract_end = { $span } after the contract ends
retention-last_activity = { $span } after your last activity
retention-consent_withdrawn = until you withdraw your consent, then { $span }
retention-account_closed-now = until the account is closed
retention-contract_end-now = until the contract ends
retention-last_activity-now = until you stop using the service
retention-consent_withdrawn-now = until you withdraw your consent
retention-collection-now = only for the moment of collection
section-retention = How long we keep your data
retention-intro = No data are kept indefinitely: each purpose has its own period, after which the data are erased or made anonymous.
retention-backups = Our backups are kept under keys that we destroy { $days } days after making them: an erased person's data can survive in our backups for at most { $days } days, after which no backup can be read.

## Recipients and transfers

section-recipients = Who receives your data
recipients-intro = Your data are handled by our authorised staff and, where needed, by:
recipients-none = We do not disclose your data to anyone outside our organisation.
recipient-line = { $name } ({ $role }, { $country })
role-processor = processor acting on our behalf
role-controller = independent controller
role-public_authority = public authority
section-transfers = Transfers outside the European Economic Area
transfers-none = Your data are not transferred outside the European Economic Area.
transfers-intro = Some recipients process your data outside the European Economic Area, protected as follows:
transfer-line = { $name } ({ $country }): { $safeguard }.
transfer-reference = A copy of the safeguard can be obtained at { $reference }.
safeguard-adequacy = adequacy decision of the European Commission (Art. 45 GDPR)
safeguard-scc = standard contractual clauses adopted by the European Commission (Art. 46(2)(c) GDPR)
safeguard-bcr = binding corporate rules (Art. 47 GDPR)
safeguard-code_of_conduct = an approved code of conduct (Art. 46(2)(e) GDPR)
safeguard-certification = an approved certification mechanism (Art. 46(2)(f) GDPR)
safeguard-derogation = a derogation for specific situations (Art. 49 GDPR)

## Rights

section-rights = Your rights
rights-intro = You have the following rights over your personal data:
right-access = access: to know whether we process your data and to obtain a copy of them, with the purposes, categories, recipients, retention and source (Art. 15 GDPR);
right-rectification = rectification: to have inaccurate data corrected and incomplete data completed (Art. 16 GDPR);
right-erasure = erasure: to have your data erased when, among other cases, they are no longer needed, you withdraw consent or you object (Art. 17 GDPR);
right-restriction = restriction: to have processing limited to storage while accuracy or an objection is being checked, or instead of erasure (Art. 18 GDPR);
right-portability = portability: to receive the data you gave us in a structured, commonly used, machine-readable format, and to have them sent to another controller (Art. 20 GDPR);
right-objection = objection: to object at any time to processing based on legitimate interests or a public task; to direct marketing the objection is absolute (Art. 21 GDPR);
right-automated = not to be subject to a decision based solely on automated processing, and to obtain human intervention (Art. 22 GDPR);
right-withdraw = to withdraw your consent at any time, without affecting the lawfulness of processing before the withdrawal (Art. 7(3) GDPR);
right-notification = to be told who received your data when we rectify, erase or restrict them (Art. 19 GDPR).
rights-how = To exercise your rights, contact us:
rights-email = by e-mail to { $email }
rights-address = by post to { $address }
rights-portal = through the portal { $portal }
rights-deadline-days = We answer within { $days } days of receiving your request, and never later than one month (Art. 12(3) GDPR). For complex or numerous requests the period may be extended by two further months; we tell you within the first month, with the reasons.
rights-deadline-month = We answer within one month of receiving your request (Art. 12(3) GDPR). For complex or numerous requests the period may be extended by two further months; we tell you within the first month, with the reasons.
rights-free = Exercising your rights is free of charge.
section-complaint = Complaints
complaint = If you believe that the processing of your data infringes the law, you have the right to lodge a complaint with the supervisory authority, { $authority }, or to bring the matter before a court.
complaint-website = Website of the authority: { $website }

## Automated decisions, cookies, minors, security, changes

section-automated = Automated decisions and profiling
automated-none = We take no decision based solely on automated processing, including profiling, that produces legal effects concerning you or similarly significantly affects you.
automated-present = We take decisions based solely on automated processing.
automated-logic = The logic involved: { $logic }
automated-significance = Significance and consequences for you: { $significance }
section-cookies = Cookies
cookies-intro = Our websites use the following cookies:
cookie-line = { $name } — { $kind }, set by { $provider }, { $duration }
cookie-kind-technical = technical
cookie-kind-preferences = preferences
cookie-kind-analytics = analytics
cookie-kind-marketing = marketing
cookie-session = lasting for the browser session
cookie-duration = lasting { $span }
section-minors = Minors
minors = Our services are intended for people aged { $age } or over; we do not knowingly collect data from younger people, and we erase any we discover.
section-security = How we protect your data
section-changes = Changes to this notice
section-language = Language
authoritative = This notice is published in several languages; if they differ, the { $language } version prevails.
language-it = Italian
language-en = English
language-fr = French
language-nl = Dutch

## Countries

country-AT = Austria
country-BE = Belgium
country-CA = Canada
country-CH = Switzerland
country-DE = Germany
country-ES = Spain
country-FR = France
country-GB = United Kingdom
country-IE = Ireland
country-IL = Israel
country-IT = Italy
country-JP = Japan
country-LU = Luxembourg
country-NL = Netherlands
country-NO = Norway
country-PL = Poland
country-PT = Portugal
country-SE = Sweden
country-US = United States

## Names of DPV personal-data terms, used when a field has no label

pd-Name = name
pd-FirstName = first name
pd-LastName = surname
pd-EmailAddress = e-mail address
pd-TelephoneNumber = telephone number
pd-PhysicalAddress = postal address
pd-IPAddress = IP address
pd-Username = user name
pd-Password = password
pd-DateOfBirth = date of birth
pd-Identifier = identifier
pd-OfficialID = identity document
pd-PaymentCardNumber = payment card number
pd-BankAccount = bank account
pd-Country = country
pd-Language = language
pd-Picture = picture

## Record of processing activities (Art. 30(1))

ropa-title = Record of processing activities
ropa-intro = Kept by { $controller } under Article 30(1) GDPR. Version { $version }, in force from { $date }.
ropa-a = (a) Controller, joint controllers, representative and data protection officer
ropa-b = (b) Purposes of the processing
ropa-c = (c) Categories of data subjects and of personal data
ropa-d = (d) Categories of recipients, including in third countries
ropa-e = (e) Transfers to third countries and their safeguards
ropa-f = (f) Time limits for erasure
ropa-g = (g) Technical and organisational security measures
ropa-activity = Processing activity
ropa-basis = Legal basis
ropa-subjects = Data subjects
ropa-categories = Personal data
ropa-recipients = Recipients
ropa-transfers = Transfers
ropa-erasure = Erasure
ropa-none = none
ropa-controller = Controller
ropa-joint = Joint controller
ropa-representative = Representative
ropa-dpo = Data protection officer
ropa-technical = Technical
ropa-organisational = Organisational
ropa-vault = kept in the segregated vault

## One-click unsubscribe pages
unsubscribe-title = Unsubscribe
unsubscribe-confirm = Do you want to stop receiving messages for “{ $purpose }”?
unsubscribe-button = Unsubscribe
unsubscribe-done = Done: you will no longer receive messages for “{ $purpose }”. Nothing else has changed.
unsubscribe-unknown = This unsubscribe link is not valid, or the person it was made for is no longer on file.

## Access (Art. 15) summary
access-title = Your personal data
access-intro = This is a copy of the personal data that { $controller } holds about you on { $date } (Article 15 GDPR). The files records.json and records.csv hold every record; this summary says why we hold them, on what legal basis, who receives them, how long we keep them, and what your rights are.
access-held = The data we hold about you
access-category = { $category }: { $count ->
    [one] { $count } record
   *[other] { $count } records
}
access-purposes = Purposes and legal basis: { $purposes }
access-retention = How long we keep them: { $retention }
access-recipients = Who receives them: { $recipients }
access-source = Where they come from: { $source }
access-source-you = from you, or from your use of our services
access-none = nobody outside our organisation
access-vault = What we keep apart because the law requires it
access-vault-line = { $category }: { $count } records, kept in a segregated archive because the law requires it ({ $law }), until { $until }.
access-vault-given = Their content is in records.json and records.csv.
access-vault-withheld = We do not give their content with this answer: { $reason }
access-vault-withheld-default = the law that obliges us to keep them allows their use only for the purpose it names, and may restrict their disclosure (Art. 23 GDPR). You may ask our data protection officer to review this.
answer-vault-title = What we keep apart because the law requires it
access-notice = Everything else we tell everyone: our privacy notice

## Answers to rights requests and identity codes
answer-title = Answer to your request { $request }
answer-intro = { $controller }, { $date }.
answer-accepted = We have carried out your request.
answer-partially_accepted = We have carried out your request in part; for the rest, the reasons are below.
answer-refused = We cannot carry out your request, for the reasons below.
answer-nothing-held = We hold no personal data about you: we searched our records and the systems where we keep customer data under the identifier you gave, and found nothing (Art. 15 GDPR).
answer-reasons = Reasons: { $reasons }
answer-done = What we did
answer-erased = { $count ->
    [one] We erased { $count } record.
   *[other] We erased { $count } records.
}
answer-kept-title = What we keep, and why
answer-kept = { $category }: { $count ->
    [one] { $count } record
   *[other] { $count } records
}, kept because the law requires it ({ $grounds }), until { $until }; used for nothing else.
answer-kept-vault = { $category }: { $count ->
    [one] { $count } record
   *[other] { $count } records
}, kept in a segregated archive because the law requires it ({ $grounds }), until { $until }; disclosed only to the judicial authority on a reasoned order.
answer-kept-fields = Only these fields are kept: { $fields }; the others are erased.
answer-until-open = the end of the period the law sets
answer-told = We told the recipients that had received your data of this change (Art. 19 GDPR):
code-subject = { $controller }: your verification code
code-body = Your code to confirm your rights request { $request } is { $code }. It works once and expires at { $expires }. If you did not file this request, ignore this message and tell us.
restriction-lift-subject = { $controller }: the restriction of your data ends
restriction-lift-body = The restriction of processing of your personal data, which you obtained under Article 18 GDPR, is being lifted for this reason: { $reason }. You may object, or ask for a new restriction, by replying to this message or through the contacts in our privacy notice.
extension-subject = { $controller }: more time to answer your request { $request }
extension-body = We need more time to answer your request { $request }, for this reason: { $reason }. Article 12(3) GDPR allows two further months: we will answer by { $due } at the latest.
answer-told-line = { $recipient }, on { $date }
answer-told-pending = We are telling these recipients, which had received your data (Art. 19 GDPR); when we wrote this answer, the notification was not yet confirmed:
answer-told-none = Your data had not been disclosed to any recipient who must be told of this change (Art. 19 GDPR).
recipient-notice-subject = { $controller }: { $action ->
    [erasure] erasure
    [rectification] rectification
   *[restriction] restriction of processing
} of personal data (Art. 19 GDPR), reference { $request }
recipient-notice-body = We disclosed to you personal data of the data subject with our reference { $subject }. At the data subject's request ({ $request }) we have { $action ->
    [erasure] erased
    [rectification] rectified
   *[restriction] restricted the processing of
} their data in these categories: { $categories }. Under Article 19 GDPR we tell you so that you do the same with the data you received from us. Reply to this message with any question.

## Inactivity rules of subject kinds (policy: close_after_inactivity)

retention-inactivity = { $subjects }: an account unused for { $span } is closed, and the periods counted from the closure of the account then run.
portal-code-subject = { $controller }: your privacy portal code
portal-code-body = Your code to open your privacy portal: { $code }. It works once and expires at { $expires }. If you did not ask for it, ignore this message.
