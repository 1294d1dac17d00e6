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
The roles come from `roles.toml`, the other words and the sentence templates from `words.toml`
(`clusterank.data.words`); this module holds only the logic that combines them.
"""

from __future__ import annotations

import random
import re

import pandas as pd

from clusterank.data.bounds import PROFILES_RANGE, check_seed
from clusterank.data.names import GENDER_COLUMN, ORIGIN_COLUMN, name_groups
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
from clusterank.data.words import (
    ABOUT,
    ADS,
    BUZZ_ADJECTIVES,
    CERTIFICATIONS,
    COMPANIES,
    DEGREES,
    DEMO_QUERY,  # noqa: F401 (re-exported: `clusterank demo` and `compare` import it from here)
    DOUBLED_PAST,
    EXPERIENCE,
    FIRST_NAMES,
    GENERIC_SKILLS,
    INDUSTRIES,
    IRREGULAR_PAST,
    KEEP_CASE,
    LAST_NAMES,
    MORE_VERBS,
    ROLE_WEIGHTS,
    SCHOOLS,
    TEAMS,
)

PROFILE_COLUMNS: tuple[str, ...] = (*PROFILE_FIELDS, TEXT_COLUMN, ROLE_COLUMN, FAMILY_COLUMN, GENDER_COLUMN,
                                    ORIGIN_COLUMN)
"""Columns of `generate_profiles`, in order; the last two are the name groups of `names.toml` (looked up, not drawn)."""

QUERY_COLUMNS: tuple[str, ...] = ("id", QUERY_TEXT_COLUMN, ROLE_COLUMN, FAMILY_COLUMN,
                                  "neighbour_in_corpus")
"""Columns of `generate_queries`, in order."""

DEFAULT_N = 6904
MIN_PER_ROLE = 40
CURRENT_YEAR = 2024  # fixed, so output never depends on the clock

_VERBS = frozenset({d.split()[0] for r in ROLES.values() for d in r.duties} | set(MORE_VERBS))


def past_tense(duty: str) -> str:
    """A duty phrase ("lead launches and run tests") with its verbs in the past tense."""
    words = duty.split(" ")
    for i, word in enumerate(words):
        if i == 0 or (words[i - 1] == "and" and word in _VERBS):
            words[i] = _past_verb(word)
    return " ".join(words)


def _past_verb(verb: str) -> str:
    if verb in IRREGULAR_PAST:
        return IRREGULAR_PAST[verb]
    if verb in DOUBLED_PAST:
        return DOUBLED_PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


def skill_phrase(skill: str) -> str:
    """A skill as written mid-sentence: common words lower-cased, names and acronyms kept."""
    words = skill.split(" ")
    if any(w in KEEP_CASE for w in words):
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
    slots = {"adj": adj, "years": years, "industry": industry, "a": a, "b": b, "c": c}
    if rng.random() < 0.27:
        text = ABOUT["generic"]
        slots["other_industry"] = rng.choice(INDUSTRIES)
        sentences = [rng.choice(text["openers"])] + rng.sample(text["middles"], 2)
        if rng.random() < 0.6:
            sentences.append(rng.choice(text["closers"]))
        return " ".join(t.format(**slots) for t in sentences)
    text = ABOUT["role"]
    who = rng.choice((shown, shown, role.title, "professional"))
    slots.update(who=who, a_adj_who=article(adj.lower() + " " + who), a_shown=article(shown),
                 other_industry=rng.choice(INDUSTRIES))
    duty = rng.choice(role.duties)
    slots.update(duty=duty, duty_done=past_tense(duty), duty2=rng.choice(role.duties),
                 duty3=rng.choice(role.duties), a_earlier=article(earlier_neighbour))
    middles = list(text["middles"]) + ([text["earlier"]] if earlier_neighbour else [])
    sentences = [rng.choice(text["openers"])] + rng.sample(middles, rng.choice((1, 2, 2)))
    if rng.random() < 0.75:
        sentences.append(rng.choice(text["closers"]))
    return " ".join(t.format(**slots) for t in sentences)


def _position(fmt, title, company, start, end, duties) -> str:
    done = "; ".join(past_tense(d) for d in duties)
    return EXPERIENCE["positions"][fmt].format(title=title, company=company, start=start, end=end,
                                               done=done, Done=_cap(done))


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
    fmt = rng.randrange(len(EXPERIENCE["positions"]))
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
        parts.append(rng.choice(EXPERIENCE["achievements"]).format(
            k=rng.randint(2, 6), team=TEAMS[role.family], year=rng.randint(end, CURRENT_YEAR)))
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
    row[GENDER_COLUMN], row[ORIGIN_COLUMN] = name_groups(row["FirstName"], row["LastName"])
    return row


def generate_profiles(n: int = DEFAULT_N, seed: int = 42) -> pd.DataFrame:
    """`n` synthetic profiles (columns `PROFILE_COLUMNS`, all strings), the same for the same seed.

    Every role appears at least `MIN_PER_ROLE` times when n allows it, and at least once
    when n is at least the number of roles.

    Raises:
        ClusterankError: n above `MAX_PROFILES` or a seed numpy could not take (as `--n`/`--seed` would be).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n:
        PROFILES_RANGE.check(n, "n")
    rng = random.Random(check_seed(seed))
    rows = [_profile(rng, title) for title in _role_sequence(n, rng)]
    return pd.DataFrame(rows, columns=list(PROFILE_COLUMNS), dtype=object)


def _collab(rng: random.Random, role: Role) -> str:
    """One or two sentences naming neighbour colleagues, as real ads do."""
    first = _lean(rng, role)
    text = rng.choice(ADS["collab"]).format(p=first.people, c=first.collab)
    others = [nb for nb in role.neighbours if nb != first.title]
    if others and rng.random() < 0.3:
        text += ADS["collab_also"].format(p=ROLES[rng.choice(others)].people)
    return text


def _query_text(rng: random.Random, role: Role, style: int) -> str:
    """The ad in `ADS["styles"][style]`, or in the style naming the title when `style` is -1."""
    d1, d2, d3 = rng.sample(role.ad_duties, 3)
    s1, s2, s3 = (skill_phrase(s) for s in rng.sample(role.skills, 3))
    extra = skill_phrase(_neighbour_skills(rng, role, _lean(rng, role), 1)[0])
    years = rng.randint(2, 7)
    company = rng.choice(ADS["company_kinds"]).format(rng.choice(INDUSTRIES))
    collab = _collab(rng, role) if rng.random() < 0.85 else ""
    slots = {"d1": d1, "d2": d2, "d3": d3, "s1": s1, "s2": s2, "s3": s3, "extra": extra,
             "years": years, "company": company, "team": TEAMS[role.family], "collab": collab}
    if style >= 0:
        return ADS["styles"][style].format(**slots)
    name = role.title if rng.random() < 0.6 or not role.variants else rng.choice(role.variants)
    level = rng.choice(("", "Senior ", "Lead ")) if "Lead" not in name else ""
    return ADS["named_style"].format(a_title=article(level + name), **slots)


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
        style = -1 if rng.random() < 0.12 else rng.randrange(len(ADS["styles"]))
        text = re.sub(r"\s+", " ", _query_text(rng, role, style)).strip()
        rows.append({"id": f"q{i:03d}", QUERY_TEXT_COLUMN: text, ROLE_COLUMN: title,
                     FAMILY_COLUMN: role.family,
                     "neighbour_in_corpus": bool(confusable_group(title))})
    return pd.DataFrame(rows, columns=list(QUERY_COLUMNS))
