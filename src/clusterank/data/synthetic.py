"""Deterministic generator of LinkedIn-like profiles and job-description queries.

The set has the shape of the seed's Hugging Face set
(`ilsilfverskiold/linkedin_profiles_synthetic`, 6,904 profiles), plus the ground truth
columns `role` and `family` from `clusterank.data.roles`. Only `random.Random(seed)`
drives the choices, so the same `(n, seed)` gives byte-identical output everywhere.

The set is meant to be hard in the ways real profiles and ads are:

* Job ads paraphrase the work (`Role.ad_duties`) instead of repeating the duty phrases
  profiles use, rarely name the title, and mention working with neighbour roles
  ("partner with product managers on the roadmap" in a product marketing ad).
* Headlines use realistic title variants ("Go-to-Market Manager", "Applied Scientist") in
  about `VARIANT_SHARE` of profiles, and roles in a confusable group share some taglines.
* Profiles overlap with a neighbour role: about a third of the skills come from neighbours,
  some positions list a neighbour's duty, some careers start in a neighbour role, and about
  a quarter of About Me sections are generic (buzzwords and industry, no title).

`role` is always the canonical base role; nothing is mislabelled and no random noise is added.
"""

from __future__ import annotations

import random
import re

import pandas as pd

from clusterank.data.roles import (
    CONFUSABLE_GROUPS,
    ROLES,
    SENIORITY_LEVELS,
    Role,
    confusable_group,
    group_taglines,
)
from clusterank.data.schema import (
    FAMILY_COLUMN,
    HEADLINE_SEPARATOR,
    PROFILE_FIELDS,
    QUERY_TEXT_COLUMN,
    ROLE_COLUMN,
    TEXT_COLUMN,
    profile_text,
)

PROFILE_COLUMNS: tuple[str, ...] = (*PROFILE_FIELDS, TEXT_COLUMN, ROLE_COLUMN, FAMILY_COLUMN)
"""Columns of `generate_profiles`, in order."""

QUERY_COLUMNS: tuple[str, ...] = ("id", QUERY_TEXT_COLUMN, ROLE_COLUMN, FAMILY_COLUMN,
                                  "neighbour_in_corpus")
"""Columns of `generate_queries`, in order."""

DEFAULT_N = 6904
MIN_PER_ROLE = 40
CURRENT_YEAR = 2024  # fixed, so output never depends on the clock

DEMO_QUERY = (
    "We are a B2B analytics scale-up looking for someone to shape how our platform is "
    "explained and sold. You will decide the messaging for each buyer persona, plan the "
    "go-to-market for new releases, and give the sales team the stories, slides and "
    "competitive insight they need to win deals. You'll partner with product managers on "
    "the roadmap, sit in on customer calls to hear what buyers care about, and work with the "
    "marketing team on campaigns and events. Requirements: 4+ years in B2B SaaS, sharp "
    "writing and a feel for pricing."
)
"""A Product Marketing Manager job description (without the title) for `clusterank demo`."""

FIRST_NAMES = (
    "Aisha", "Alejandro", "Amara", "Anders", "Ananya", "Andrei", "Beatriz", "Bilal", "Camille",
    "Carlos", "Chen", "Chiara", "Chloe", "Daniel", "Dmitri", "Elena", "Emeka", "Emily", "Fatima",
    "Felix", "Freya", "Gabriel", "Hana", "Hassan", "Ingrid", "Isabella", "Ivan", "Jamal",
    "James", "Ji-woo", "Joao", "Julia", "Kai", "Kavya", "Kenji", "Kwame", "Lars", "Laura",
    "Leila", "Liam", "Lucia", "Mahmoud", "Maria", "Mateo", "Mei", "Michael", "Mohammed",
    "Nadia", "Naledi", "Nikhil", "Noah", "Olga", "Olivia", "Omar", "Priya", "Rafael", "Rahul",
    "Rania", "Rohan", "Sakura", "Samuel", "Santiago", "Sara", "Sebastian", "Siobhan", "Sofia",
    "Sven", "Tariq", "Thandiwe", "Thomas", "Tomasz", "Valentina", "Wei", "Xavier", "Yara",
    "Yusuf", "Zainab", "Zoe", "Anika", "Diego",
)
LAST_NAMES = (
    "Abadi", "Adeyemi", "Ahmed", "Alvarez", "Andersson", "Bakker", "Banerjee", "Becker",
    "Bianchi", "Brown", "Castillo", "Chatterjee", "Chen", "Cohen", "Costa", "Dubois", "Eriksen",
    "Fernandes", "Fischer", "Garcia", "Gonzalez", "Gupta", "Haddad", "Hansen", "Hernandez",
    "Hoffmann", "Ibrahim", "Ito", "Ivanova", "Jansen", "Johnson", "Kamau", "Kapoor", "Kim",
    "Kowalski", "Kumar", "Larsen", "Laurent", "Lee", "Lopez", "Mahlangu", "Martin", "Mendes",
    "Moreau", "Mensah", "Murphy", "Nakamura", "Nguyen", "Novak", "Nowak", "Okafor", "Olsen",
    "Osei", "Park", "Patel", "Pereira", "Petrov", "Popescu", "Rahman", "Reyes", "Rossi",
    "Russo", "Sato", "Schmidt", "Silva", "Singh", "Smith", "Suzuki", "Tanaka", "Torres",
    "Van der Berg", "Wang", "Williams", "Wilson", "Yamamoto", "Yilmaz", "Zhang", "Zhou",
    "O'Brien", "Kaur",
)
COMPANIES = (
    "Northwind Analytics", "Brightline Health", "Bluepeak Software", "Crestview Bank",
    "Helix Biotech", "Lumen Retail", "Orbital Logistics", "Pinecone Media", "Quantum Leap Labs",
    "Redwood Insurance", "Silverline Telecom", "Summit Energy", "Tidewater Foods",
    "Vertex Mobility", "Waypoint Travel", "Zephyr Games", "Aurora Fintech", "Cobalt Security",
    "Driftwood Apparel", "Evergreen Learning", "Falcon Aerospace", "Granite Capital",
    "Harbor Freight Systems", "Ironclad Manufacturing", "Juniper Cloud", "Keystone Consulting",
    "Lighthouse Pharma", "Mosaic Marketplace", "Nimbus Data", "Oakridge Property",
    "Polaris Automotive", "Riverbend Hospitality", "Sapphire Payments", "Terra Renewables",
    "Urban Nest Homes", "Velvet Beauty", "Willow Care", "Atlas HR Tech", "Beacon Legal Group",
    "Cascade Robotics", "Delta Supply Co.", "Ember Studios",
)
INDUSTRIES = (
    "fintech", "healthcare", "e-commerce", "B2B SaaS", "logistics", "education technology",
    "retail", "telecommunications", "gaming", "renewable energy", "automotive", "media",
    "insurance", "travel", "cybersecurity", "consumer goods", "banking", "manufacturing",
)
SCHOOLS = (
    "University of Toronto", "University of Manchester", "Technical University of Munich",
    "University of Cape Town", "National University of Singapore", "University of Sao Paulo",
    "Indian Institute of Technology Bombay", "University of Melbourne", "Sorbonne University",
    "University of Amsterdam", "Stockholm School of Economics", "University of Lagos",
    "Seoul National University", "University of Texas at Austin", "McGill University",
    "University College Dublin", "Bocconi University", "University of Michigan",
    "Delft University of Technology", "Universidad de Buenos Aires", "Cairo University",
    "University of Warsaw", "Keio University", "University of Edinburgh", "Tsinghua University",
    "Arizona State University", "University of Nairobi", "ETH Zurich",
)
DEGREES: dict[str, tuple[str, ...]] = {
    "Product": ("BSc in Computer Science", "BA in Economics", "BBA in Business Administration",
                "MBA", "BEng in Industrial Engineering", "MSc in Information Systems"),
    "Marketing": ("BA in Marketing", "BA in Communications", "BBA in Business Administration",
                  "MSc in Marketing Management", "MBA", "BA in Journalism"),
    "Communications": ("BA in English Literature", "BA in Journalism", "BA in Communications",
                       "MA in Public Relations", "BSc in Computer Science"),
    "Data": ("BSc in Statistics", "MSc in Data Science", "BSc in Mathematics",
             "MSc in Computer Science", "BSc in Economics", "PhD in Physics"),
    "Engineering": ("BSc in Computer Science", "BEng in Software Engineering",
                    "MSc in Computer Science", "BSc in Information Technology",
                    "BEng in Electrical Engineering"),
    "Design": ("BA in Graphic Design", "BDes in Interaction Design", "BA in Psychology",
               "MA in Human-Computer Interaction", "BA in Visual Communication"),
    "Sales": ("BBA in Business Administration", "BA in Economics", "BA in Communications",
              "BSc in Computer Science", "BA in Marketing"),
    "Customer": ("BA in Business Administration", "BA in Communications", "BA in Psychology",
                 "BA in Economics"),
    "People": ("BA in Human Resource Management", "BA in Psychology",
               "MSc in Organisational Psychology", "BBA in Business Administration"),
    "Finance": ("BSc in Accounting and Finance", "BA in Economics", "MSc in Finance", "MBA",
                "BCom in Accounting"),
    "Operations": ("BEng in Industrial Engineering", "BSc in Supply Chain Management",
                   "BBA in Business Administration", "MBA", "BSc in Logistics"),
    "Project Management": ("BBA in Business Administration", "BSc in Information Systems",
                           "BEng in Civil Engineering", "MSc in Project Management", "MBA"),
    "Legal": ("LLB in Law", "JD", "LLM in Commercial Law", "BA in Political Science"),
}
CERTIFICATIONS: dict[str, tuple[str, ...]] = {
    "Product": ("Certified Scrum Product Owner (CSPO)", "Pragmatic Institute PMC-III",
                "Product School Product Manager Certificate", "Google Analytics Certification"),
    "Marketing": ("Google Analytics Certification", "HubSpot Inbound Marketing Certification",
                  "Google Ads Search Certification", "Pragmatic Institute Launch Certification",
                  "Meta Certified Digital Marketing Associate", "HubSpot Content Marketing"),
    "Communications": ("Accredited in Public Relations (APR)",
                       "Certificate in Technical Communication", "Google Analytics Certification"),
    "Data": ("Google Professional Data Engineer", "AWS Certified Machine Learning - Specialty",
             "Tableau Desktop Specialist", "Microsoft Certified: Azure Data Scientist Associate",
             "Databricks Certified Data Engineer Associate", "TensorFlow Developer Certificate"),
    "Engineering": ("AWS Certified Solutions Architect - Associate",
                    "Certified Kubernetes Administrator (CKA)", "HashiCorp Terraform Associate",
                    "Microsoft Certified: Azure Administrator", "CompTIA Security+",
                    "ISTQB Foundation Level", "Oracle Certified Java Programmer"),
    "Design": ("Google UX Design Certificate", "Nielsen Norman Group UX Certification",
               "Interaction Design Foundation Certificate", "Adobe Certified Professional"),
    "Sales": ("Salesforce Certified Administrator", "MEDDICC Certification",
              "Sandler Sales Training", "AWS Certified Cloud Practitioner"),
    "Customer": ("Gainsight Certified Administrator", "Certified Customer Success Manager",
                 "Zendesk Support Administrator", "HubSpot Service Hub Certification"),
    "People": ("SHRM Certified Professional", "CIPD Level 7", "Certified Diversity Recruiter",
               "ATD Certified Professional in Talent Development"),
    "Finance": ("CFA Level II", "ACCA", "CPA", "Financial Modeling and Valuation Analyst (FMVA)",
                "CIMA"),
    "Operations": ("Lean Six Sigma Green Belt", "APICS CSCP", "CIPS Level 4",
                   "Certified Supply Chain Professional"),
    "Project Management": ("PMP", "PRINCE2 Practitioner", "Certified ScrumMaster (CSM)",
                           "SAFe Agilist", "PMI-ACP"),
    "Legal": ("Admitted to the Bar", "CIPP/E", "Certified Compliance and Ethics Professional",
              "ICA Diploma in AML"),
}
GENERIC_SKILLS = (
    "Stakeholder Management", "Cross-functional Collaboration", "Strategic Planning",
    "Communication", "Leadership", "Problem Solving", "Microsoft Excel", "Team Leadership",
    "Data-driven Decision Making", "Presentation Skills", "Project Management", "Mentoring",
)
BUZZ_ADJECTIVES = ("Results-driven", "Data-driven", "Experienced", "Passionate", "Strategic",
                   "Detail-oriented", "Customer-focused", "Highly motivated")
"""Generic adjectives every family's profiles use (the seed's complaint)."""
BUZZWORDS = ("results-driven", "data-driven", "experienced", "passionate", "cross-functional",
             "stakeholder management", "strategic")
"""Generic buzzwords that must appear across all families."""

ROLE_WEIGHTS: dict[str, float] = {
    "Software Engineer": 3.0, "Data Scientist": 2.2, "Product Manager": 2.2,
    "Data Analyst": 1.8, "Account Executive": 1.6, "Project Manager": 1.5,
    "Marketing Manager": 1.5, "Frontend Engineer": 1.3, "Backend Engineer": 1.3,
    "Customer Success Manager": 1.3, "Financial Analyst": 1.3, "Recruiter": 1.3,
    "Technical Writer": 0.6, "Learning and Development Specialist": 0.6,
    "Compliance Officer": 0.7, "Procurement Specialist": 0.7, "UX Researcher": 0.7,
    "Legal Counsel": 0.7, "Graphic Designer": 0.8, "Mobile Developer": 0.9,
}
"""Relative frequency of each role beyond the guaranteed minimum (1.0 if absent)."""

_IRREGULAR = {"break": "broke", "build": "built", "cut": "cut", "feed": "fed",
              "forecast": "forecast", "grow": "grew", "keep": "kept", "lay": "laid",
              "lead": "led", "make": "made", "oversee": "oversaw", "run": "ran", "set": "set",
              "write": "wrote", "upsell": "upsold", "take": "took", "find": "found",
              "drive": "drove", "cross-sell": "cross-sold"}
_DOUBLE = {"map": "mapped", "plan": "planned", "ship": "shipped", "model": "modelled",
           "flag": "flagged"}
_VERBS = frozenset({d.split()[0] for r in ROLES.values() for d in r.duties}
                   | {"respond", "edit", "iterate", "mentor", "communicate", "summarise",
                      "report", "identify", "escalate", "evaluate", "reduce", "close",
                      "prioritise", "track", "review", "keep", "test", "run", "maintain",
                      "hand", "analyse", "publish", "prepare", "take", "manage", "negotiate",
                      "coordinate", "deliver", "map", "share", "forecast", "triage", "validate",
                      "update", "post", "liaise", "refine", "document", "pitch", "flag",
                      "drive", "cross-sell", "book"})
_KEEP_CASE = frozenset(
    "Jira Amplitude Confluence Microsoft Visio Google Meta Ahrefs SEMrush WordPress Instagram "
    "TikTok LinkedIn Hootsuite Markdown Git OpenAPI Python Scikit-learn Jupyter Excel Tableau "
    "Apache Spark Airflow Snowflake Kafka Power Looker Java Go React Next.js Jest Redux Node.js "
    "Swift Kotlin Android Flutter Jetpack Firebase Jenkins Terraform Ansible Linux Bash Helm "
    "Prometheus Grafana Azure CloudFormation Selenium Cypress Postman Figma Sketch Dovetail "
    "Adobe InDesign Salesforce Outreach Gainsight Zendesk Intercom Greenhouse Articulate SAP "
    "Anaplan MS Nielsen Lean Six Store Docker Kubernetes PyTorch TensorFlow Agile Scrum Kanban "
    "Boolean Waterfall Pandas Redis Actions".split())


def past_tense(duty: str) -> str:
    """A duty phrase ("lead launches and run tests") with its verbs in the past tense."""
    words = duty.split(" ")
    for i, word in enumerate(words):
        if i == 0 or (words[i - 1] == "and" and word in _VERBS):
            words[i] = _past_verb(word)
    return " ".join(words)


def _past_verb(verb: str) -> str:
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    if verb in _DOUBLE:
        return _DOUBLE[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


def skill_phrase(skill: str) -> str:
    """A skill as written mid-sentence: common words lower-cased, names and acronyms kept."""
    words = skill.split(" ")
    if any(w in _KEEP_CASE for w in words):
        return skill
    parts = re.split(r"([ /-])", skill)
    return "".join(p.lower() if p[:1].isupper() and p[1:].islower() else p for p in parts)


def article(phrase: str) -> str:
    """The phrase with "a" or "an" in front, by how its first word sounds."""
    first = phrase.split(" ", 1)[0]
    vowel = first[:1].lower() in "aeio" or first.startswith(("FP&A", "HR", "SEO", "MBA", "SRE"))
    return ("an " if vowel else "a ") + phrase


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _role_sequence(n: int, rng: random.Random) -> list[str]:
    """Roles for n rows: every role dealt round-robin up to MIN_PER_ROLE times, the rest weighted."""
    titles = list(ROLES)
    floor = min(MIN_PER_ROLE, n // len(titles))
    seq = [t for _ in range(floor) for t in titles]
    seq += titles[: min(len(titles), n - len(seq))] if floor == 0 else []
    weights = [ROLE_WEIGHTS.get(t, 1.0) for t in titles]
    seq += rng.choices(titles, weights=weights, k=n - len(seq))
    rng.shuffle(seq)
    return seq


def _lean(rng: random.Random, role: Role) -> Role:
    """The neighbour a profile leans towards: a confusable group-mate three times as often."""
    group = confusable_group(role.title)
    weights = [3.0 if nb in group else 1.0 for nb in role.neighbours]
    return ROLES[rng.choices(role.neighbours, weights=weights)[0]]


def _neighbour_skills(rng: random.Random, role: Role, lean: Role, k: int) -> list[str]:
    """k skills of the neighbours that the role does not list itself, mostly from `lean`."""
    own = set(role.skills)
    near = [s for s in lean.skills if s not in own]
    rest = [s for nb in role.neighbours for s in ROLES[nb].skills if s not in own and s not in near]
    rest = list(dict.fromkeys(rest))
    picked = rng.sample(near, min(len(near), k - (1 if rest and rng.random() < 0.35 else 0)))
    picked += rng.sample(rest, min(len(rest), k - len(picked)))
    return picked


def _about(rng, role, shown, level, years, industry, skills, earlier_neighbour) -> str:
    """The About Me section; about a quarter are generic (no title, buzzwords, industry)."""
    adj = rng.choice(BUZZ_ADJECTIVES)
    a, b, c = (skill_phrase(s) for s in rng.sample(skills, 3))
    if rng.random() < 0.27:
        openers = (
            f"{adj} professional with {years}+ years of experience in {industry}.",
            f"I have spent {years} years in {industry}, most of it in fast-moving, "
            f"cross-functional teams.",
            f"{adj} and curious, with {years}+ years across {industry} and "
            f"{rng.choice(INDUSTRIES)} companies.",
        )
        middles = [
            "I enjoy turning ambiguous problems into clear plans and bringing people along.",
            "Known for strong stakeholder management and a strategic, data-driven approach.",
            "I like working where business, customers and technology meet.",
            f"Lately I have been focused on {a} and helping teams grow.",
            "I thrive in cross-functional environments and care about measurable impact.",
        ]
        closers = ("Results-driven, curious and always learning.",
                   f"Always happy to connect with people in {industry}.",
                   "Open to new challenges and conversations.")
        sentences = [rng.choice(openers)] + rng.sample(middles, 2)
        if rng.random() < 0.6:
            sentences.append(rng.choice(closers))
        return " ".join(sentences)
    who = rng.choice((shown, shown, role.title, "professional"))
    openers = (
        f"{adj} {who} with {years}+ years of experience in {industry}.",
        f"I am {article(adj.lower() + ' ' + who)} with a background in {industry} and "
        f"{years}+ years of hands-on experience.",
        f"{years}+ years as {article(shown)} across {industry} and "
        f"{rng.choice(INDUSTRIES)} companies.",
        f"{adj} {who} who has spent the last {years} years in {industry}.",
    )
    duty = rng.choice(role.duties)
    middles = [
        f"I specialise in {a}, {b} and {c}.",
        f"Most recently I {past_tense(duty)}.",
        f"Passionate about {a} and {b}, and known for strong stakeholder management.",
        f"Day to day I work cross-functionally to {duty}.",
        f"My strengths are {a}, {b} and cross-functional collaboration.",
        f"Data-driven and strategic, I have helped teams {rng.choice(role.duties)}.",
    ]
    if earlier_neighbour:
        middles.append(f"I started my career as {article(earlier_neighbour)} before moving into "
                       f"my current field.")
    closers = (
        f"Always happy to connect about {c}, {industry} and building great teams.",
        f"Open to opportunities where I can {rng.choice(role.duties)}.",
        "Outside work I mentor early-career professionals.",
        "I believe in strategic thinking, clear communication and data-driven decisions.",
        "Results-driven, curious and always learning.",
    )
    sentences = [rng.choice(openers)] + rng.sample(middles, rng.choice((1, 2, 2)))
    if rng.random() < 0.75:
        sentences.append(rng.choice(closers))
    return " ".join(sentences)


def _position(fmt, title, company, start, end, duties) -> str:
    done = "; ".join(past_tense(d) for d in duties)
    if fmt == 0:
        return f"{title} at {company} ({start}-{end}): {_cap(done)}."
    if fmt == 1:
        return f"{company} - {title}, {start}-{end}. {_cap(done)}."
    return f"{title}, {company} ({start} to {end}). Key work: {done}."


_ACHIEVEMENTS = (
    "Recognised for stakeholder management and cross-functional leadership.",
    "Promoted twice in three years for consistently exceeding targets.",
    "Mentored {k} junior colleagues and ran regular knowledge-sharing sessions.",
    "Championed data-driven decision making across the {team} function.",
    "Received the company's annual impact award in {year}.",
    "Worked with {k} cross-functional teams on strategic company initiatives.",
)


def _experience(rng, role, level, shown, lean, nb_title, borrow):
    """Career positions, most recent first; returns (text, years of experience).

    The current position carries the headline title `shown`; when `nb_title` is set the
    earliest position was in that neighbour role, and when `borrow` is set one duty of a
    position in the role itself comes from the neighbour `lean` (people do overlapping work).
    """
    count = 2 if level == "Junior" else rng.choice((2, 3, 3))
    ladder = {"Junior": ["Junior"], "": ["", "Junior"], "Senior": ["Senior", "", "Junior"],
              "Lead": ["Lead", "Senior", ""]}[level]
    companies = rng.sample(COMPANIES, count)
    fmt = rng.randrange(3)
    end, parts, used = "present", [], set()
    span = 2 if level == "Junior" else 4
    start = CURRENT_YEAR - rng.randint(0, span)
    borrow_at = 0 if rng.random() < 0.7 else 1
    for i in range(count):
        step = ladder[min(i, len(ladder) - 1)]
        source = role
        if nb_title and i == count - 1:
            source = ROLES[nb_title]
            step = rng.choice(("", "Junior")) if step != "Junior" else step
        if i == 0:
            title = shown
        elif source is role and role.variants and rng.random() < 0.3:
            title = rng.choice(role.variants)
        else:
            title = f"{step} {source.title}".strip()
        pool = [d for d in source.duties if d not in used] or list(source.duties)
        k = min(len(pool), rng.choice((2, 2, 3) if i == 0 else (1, 2, 2)))
        duties = rng.sample(pool, k)
        if borrow and source is role and i == min(borrow_at, count - 1):
            duties[-1 if k > 1 else 0] = rng.choice(lean.duties)
            if k == 1:
                duties.insert(0, pool[0] if pool[0] not in duties else pool[-1])
        used.update(duties)
        parts.append(_position(fmt, title, companies[i], start, end, duties))
        end = start
        start = end - rng.randint(1, span)
    if rng.random() < 0.6:
        parts.append(rng.choice(_ACHIEVEMENTS).format(
            k=rng.randint(2, 6), team=_TEAMS[role.family], year=rng.randint(end, CURRENT_YEAR)))
    return " ".join(parts), CURRENT_YEAR - end


def _education(rng, family) -> str:
    degrees = rng.sample(DEGREES[family], 2)
    schools = rng.sample(SCHOOLS, 2)
    first = f"{degrees[0]}, {schools[0]}"
    return f"{first}; {degrees[1]}, {schools[1]}" if rng.random() < 0.3 else first


VARIANT_SHARE = 0.45
"""Share of headlines showing one of the role's `variants` instead of the canonical title."""
NEIGHBOUR_CAREER_SHARE = 0.28
"""Share of profiles whose earliest position was in a neighbour role."""
BORROWED_DUTY_SHARE = 0.35
"""Share of profiles with one position listing a duty of a neighbour role."""
GROUP_TAGLINE_SHARE = 0.3
"""Share of headlines (of roles in a confusable group) with a tagline the whole group uses."""


def _headline_title(rng: random.Random, role: Role, level: str) -> str:
    if not role.variants or rng.random() >= VARIANT_SHARE:
        return f"{level} {role.title}".strip()
    variant = rng.choice(role.variants)
    if level in ("Junior", "Senior") and rng.random() < 0.5 and not variant.startswith("Head"):
        return f"{level} {variant}"
    return variant


def _profile(rng: random.Random, title: str) -> dict[str, str]:
    role = ROLES[title]
    level = rng.choices(SENIORITY_LEVELS, weights=(0.15, 0.4, 0.3, 0.15))[0]
    shown = _headline_title(rng, role, level)
    lean = _lean(rng, role)
    shared = group_taglines(title)
    tagline = rng.choice(shared if shared and rng.random() < GROUP_TAGLINE_SHARE
                         else role.taglines)
    nb_title = lean.title if rng.random() < NEIGHBOUR_CAREER_SHARE else ""
    borrow = rng.random() < BORROWED_DUTY_SHARE
    experience, years = _experience(rng, role, level, shown, lean, nb_title, borrow)
    skills = rng.sample(role.skills, rng.randint(3, 5))
    skills += _neighbour_skills(rng, role, lean, rng.randint(2, 3) + (rng.random() < 0.3))
    generic = [s for s in GENERIC_SKILLS if s not in skills]
    skills += rng.sample(generic, rng.randint(1, 2))
    rng.shuffle(skills)
    n_certs = rng.choices((0, 1, 2), weights=(0.35, 0.45, 0.2))[0]
    row = {
        "FirstName": rng.choice(FIRST_NAMES),
        "LastName": rng.choice(LAST_NAMES),
        "Headline": shown + HEADLINE_SEPARATOR + tagline,
        "About Me": _about(rng, role, shown, level, max(years, 1), rng.choice(INDUSTRIES),
                           list(role.skills), nb_title if rng.random() < 0.5 else ""),
        "Experience": experience,
        "Education": _education(rng, role.family),
        "Skills": ", ".join(skills),
        "Certifications": ", ".join(rng.sample(CERTIFICATIONS[role.family], n_certs)),
    }
    row[TEXT_COLUMN] = profile_text(row)
    row[ROLE_COLUMN] = title
    row[FAMILY_COLUMN] = role.family
    return row


def generate_profiles(n: int = DEFAULT_N, seed: int = 42) -> pd.DataFrame:
    """`n` synthetic profiles (columns `PROFILE_COLUMNS`, all strings), the same for the same seed.

    Every role appears at least `MIN_PER_ROLE` times when n allows it, and at least once
    when n is at least the number of roles.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    rows = [_profile(rng, title) for title in _role_sequence(n, rng)]
    return pd.DataFrame(rows, columns=list(PROFILE_COLUMNS), dtype=object)


_TEAMS = {"Product": "product", "Marketing": "marketing", "Communications": "communications",
          "Data": "data", "Engineering": "engineering", "Design": "design", "Sales": "sales",
          "Customer": "customer experience", "People": "people", "Finance": "finance",
          "Operations": "operations", "Project Management": "delivery", "Legal": "legal"}
_COMPANY_KINDS = ("a fast-growing {} company", "an established {} business", "a {} scale-up",
                  "a profitable {} start-up", "a global {} group")


_COLLAB = (
    "You'll partner closely with {p} on {c}.",
    "You will work hand in hand with {p} on {c}.",
    "Expect to spend a lot of time with {p}, especially on {c}.",
    "You'll collaborate every week with {p} on {c}.",
)


def _collab(rng: random.Random, role: Role) -> str:
    """One or two sentences naming neighbour colleagues, as real ads do."""
    first = _lean(rng, role)
    text = rng.choice(_COLLAB).format(p=first.people, c=first.collab)
    others = [nb for nb in role.neighbours if nb != first.title]
    if others and rng.random() < 0.3:
        text += f" You will also work with {ROLES[rng.choice(others)].people}."
    return text


def _query_text(rng: random.Random, role: Role, style: int) -> str:
    d1, d2, d3 = rng.sample(role.ad_duties, 3)
    s1, s2, s3 = (skill_phrase(s) for s in rng.sample(role.skills, 3))
    extra = skill_phrase(_neighbour_skills(rng, role, _lean(rng, role), 1)[0])
    years = rng.randint(2, 7)
    company = rng.choice(_COMPANY_KINDS).format(rng.choice(INDUSTRIES))
    team = _TEAMS[role.family]
    collab = _collab(rng, role) if rng.random() < 0.85 else ""
    if style == 0:
        return (f"We're {company} looking for someone to {d1}. You will also {d2}, and a big "
                f"part of the job is to {d3}. {collab} "
                f"Requirements: {years}+ years of relevant experience, hands-on {s1}, {s2} and {s3}, "
                f"and clear communication. Nice to have: {extra}.")
    if style == 1:
        return (f"Join the {team} team at {company}. What you'll do: {d1}; {d2}; {d3}. "
                f"{collab} What we're looking for: experience with {s1} and {s2}, comfort with {s3}, "
                f"and a data-driven, results-oriented mindset.")
    if style == 2:
        return (f"In this role you will {d1}, {d2} and {d3}. {collab} The ideal candidate has "
                f"worked with {s1} and {s2} for at least {years} years and can explain their "
                f"work clearly to non-specialists. Bonus points for {extra}. You'll be part of "
                f"{company}.")
    if style == 3:
        return (f"Looking for a hands-on professional to {d1}. Day to day you'll {d2} and {d3}. "
                f"{collab} Must know {s1} and {s2}; {s3} is a plus. Experience at {company} or similar "
                f"preferred.")
    if style == 4:
        return (f"Your mission: {d1}. You'll {d2} and {d3}. {collab} We expect solid "
                f"experience with {s1} and {s2}, strong stakeholder management and a "
                f"collaborative attitude. Knowing {extra} is a bonus. This is a role at {company}.")
    name = role.title if rng.random() < 0.6 or not role.variants else rng.choice(role.variants)
    level = rng.choice(("", "Senior ", "Lead ")) if "Lead" not in name else ""
    return (f"We are hiring {article(level + name)} at {company}. Responsibilities: {d1}; "
            f"{d2}; {d3}. {collab} You have {years}+ years of experience and know {s1} and "
            f"{s2}.")


def _query_roles() -> list[str]:
    """Every role once, then extra queries for the confusable groups."""
    extra = ["Product Marketing Manager", "Product Marketing Manager", "Product Manager",
             "Product Owner"]
    for group in CONFUSABLE_GROUPS[1:7]:
        extra += list(group)
    extra += ["Financial Analyst", "FP&A Manager", "Project Manager", "Scrum Master"]
    return list(ROLES) + extra


def generate_queries(seed: int = 42) -> pd.DataFrame:
    """Job-description queries (columns `QUERY_COLUMNS`) covering every role; same seed, same output.

    The ads paraphrase the work (`Role.ad_duties`) instead of reusing the duties profiles
    list, most do not name the title, and most mention working with a neighbour role.
    `neighbour_in_corpus` is True when the target role belongs to one of the tight
    `CONFUSABLE_GROUPS`, so the corpus holds near-miss profiles for it (a Product Manager
    for a Product Marketing Manager ad); those queries are the ones routing and reranking
    must get right. Roles outside every group only have loose neighbours.
    """
    rng = random.Random(seed)
    rows = []
    for i, title in enumerate(_query_roles(), start=1):
        role = ROLES[title]
        style = 5 if rng.random() < 0.12 else rng.randrange(5)
        text = re.sub(r"\s+", " ", _query_text(rng, role, style)).strip()
        rows.append({"id": f"q{i:03d}", QUERY_TEXT_COLUMN: text, ROLE_COLUMN: title,
                     FAMILY_COLUMN: role.family,
                     "neighbour_in_corpus": bool(confusable_group(title))})
    return pd.DataFrame(rows, columns=list(QUERY_COLUMNS))
