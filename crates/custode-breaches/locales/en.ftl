# The breach register: the authority's notification (Art. 33(3)) and the
# notice to the people concerned (Art. 34).

notice-title = Notification of a personal data breach
notice-title-telecom = Notification of a personal data breach (Regulation 611/2013)
notice-breach = Breach { $id }, entry version { $version }
controller = Controller
contact = Contact point for more information (Art. 33(3)(b))
timeline = When
detected = Detected
aware = Became aware
deadline = Deadline for this notification
rule-other = 72 hours from becoming aware (GDPR Art. 33(1))
rule-electronic_communications = 24 hours from detection (Regulation 611/2013 Art. 2(2))
notified = Notified
not-notified = Not notified yet
follow-up = Follow-up
late-reason = Reasons for the delay
nature = Nature of the breach (Art. 33(3)(a))
nature-confidentiality = Confidentiality: data disclosed or reached without authorisation
nature-integrity = Integrity: data altered without authorisation
nature-availability = Availability: data lost or made unreachable
description = What happened
systems = Systems involved
concerned = Data and people concerned
data-categories = Categories of data
subject-kinds = Categories of people
approx = Approximate numbers stated: { $subjects } people, { $records } records
computed = Computed from the data held, on { $date }: { $subjects } people and { $records } records
column-tenant = Tenant
column-category = Category
column-people = People
column-records = Records
consequences = Likely consequences (Art. 33(3)(c))
measures-taken = Measures taken (Art. 33(3)(d))
measures-proposed = Measures proposed (Art. 33(3)(d))
people = Communication to the people concerned (Art. 34)
people-told = { $count } people have been told individually.
people-not-yet = The people concerned have not been told individually yet.
exemption-unintelligible = They are not told individually: the data are unintelligible to anyone not authorised to access them (Art. 34(3)(a)).
exemption-risk_no_longer_likely = They are not told individually: measures taken since ensure that the high risk is no longer likely to materialise (Art. 34(3)(b)).
exemption-disproportionate_effort = They are not told individually, which would involve disproportionate effort: a public communication informs them as effectively (Art. 34(3)(c)).
public-notice = Public communication
unknown = not known
none = none
person-subject = { $controller }: a breach concerning your personal data
person-body =
    Dear customer,

    on { $date } we became aware of a breach of security concerning personal data we hold about you.

    What happened: { $description }

    Data concerned: { $categories }

    Likely consequences: { $consequences }

    What we have done and will do: { $measures }

    For more information, contact { $contact }. You may also lodge a complaint with { $authority }.

    { $controller }
