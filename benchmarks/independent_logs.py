"""Independent simulator of LLM API traffic: benign customers and distillation harvesters.

A held-out test set for account-level harvester detection, written without looking at any detector or at the
project's own traffic simulator. Every behaviour below is modelled on how real API customers and real
distillation operators behave, not on what a particular detector measures.

    python benchmarks/independent_logs.py --seed 1 --out /tmp/indep_dev          # ~780k scored requests
    python benchmarks/independent_logs.py --seed 1 --out /tmp/indep_small --small  # ~5 % of that

Outputs (in ``--out``):

* ``scored.parquet``    -- 14 days of request logs to be scored (no labels);
* ``reference.parquet`` -- the 7 days just before, vetted benign accounts only;
* ``labels.csv``        -- ``account_id,label,family,campaign_id`` for every account of ``scored.parquet``;
* ``manifest.json``     -- seed, sizes, per-family counts, every parameter drawn for this seed, runtime.

Log columns: ``timestamp`` (tz-aware UTC), ``account_id``, ``prompt``, ``prompt_tokens``, ``completion_tokens``,
``ip``, ``user_agent``, ``model``, ``request_id``, ``org_id``, ``status``, ``max_tokens`` (nullable: missing when
the client did not set it).

Conventions worth knowing:

* ``prompt`` is the text of the *new* user message of the request (for a chat turn: what the user typed now);
  ``prompt_tokens`` is what the API billed, i.e. the new message plus any system prompt and the earlier turns
  of the conversation that the client re-sends. So ``prompt_tokens`` is ~``len(prompt)/4`` for one-shot calls
  and larger for later turns of a conversation and for agents that carry a big context.
* Failed requests (``status`` != "200") have ``completion_tokens == 0``. Clients that hit a rate limit (429)
  often retry the same prompt a few seconds later.
* ``completion_tokens`` reflects what was asked: ShareGPT turns use the length of the real ChatGPT answer to
  that turn (with noise); templated requests draw from a per-task length distribution; a set ``max_tokens``
  truncates.
* Human text comes from real ShareGPT conversations (``distillguard.data``). The conversations are split,
  per seed, into a *private* part (what benign customers type) and a *public* part (the "public dataset" that
  verbatim harvesters replay and that the campaign operator mines for seeds). Because benign demand exceeds
  the private part, conversations are reused across benign accounts; every reuse after the first is lightly
  edited (casing, punctuation, a greeting, a typo, ...), so exact cross-account duplicates of long benign
  prompts are rare, as in real traffic -- except where real benign traffic does repeat text (evaluation
  harnesses running the same public benchmark, a company's onboarding workshop exercises, batch templates).
* Reference period: the 7 days before the scored window. It holds a random ~55 % of the benign accounts that
  already existed then (same account ids and same behaviour as in the scored window), plus accounts that
  churned before the scored window and another company's onboarding cohort. No harvester appears in it.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["FULL_COUNTS", "HARVESTER_FAMILIES", "BENIGN_FAMILIES", "family_counts", "generate", "main"]

DAY = 86400.0
HOUR = 3600.0
GENERATOR_VERSION = "independent-1.0"

# --------------------------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------------------------

HARVESTER_FAMILIES = (
    "taxonomy_sweep",
    "reasoning_elicitation",
    "post_release_burst",
    "proxy_campaign",
    "verbatim_replay",
)
BENIGN_FAMILIES = (
    "human",
    "new_signup",
    "power_user",
    "eval_harness",
    "batch_enterprise",
    "tutoring_platform",
    "reseller",
    "onboarding_cohort",
)
FULL_COUNTS = {
    "taxonomy_sweep": 25,
    "reasoning_elicitation": 25,
    "post_release_burst": 25,
    "proxy_campaign": 400,
    "verbatim_replay": 30,
    "human": 1850,
    "new_signup": 600,
    "power_user": 480,
    "eval_harness": 24,
    "batch_enterprise": 18,
    "tutoring_platform": 10,
    "reseller": 10,
    "onboarding_cohort": 100,
}
SMALL_FRACTION = 0.05
_SMALL_MIN = {f: 2 for f in HARVESTER_FAMILIES} | {f: 1 for f in BENIGN_FAMILIES} | {"onboarding_cohort": 5}

SCORED_DAYS = 14
REFERENCE_DAYS = 7
CAMPAIGN_ID = "camp-proxy-01"

MODEL_FLAGSHIP = "nova-2"
MODEL_SMALL = "nova-2-mini"
MODEL_NEW = "nova-3"


def family_counts(small: bool = False) -> dict[str, int]:
    """Accounts per family in ``scored.parquet`` (``small``: ~5 % of the full size, at least a few each)."""
    if not small:
        return dict(FULL_COUNTS)
    return {f: max(_SMALL_MIN[f], int(round(n * SMALL_FRACTION))) for f, n in FULL_COUNTS.items()}


# --------------------------------------------------------------------------------------------------------------
# text libraries (all written for this simulator)
# --------------------------------------------------------------------------------------------------------------

TAXONOMY = {
    "Mathematics": ["linear algebra", "real analysis", "number theory", "probability theory", "combinatorics",
                    "ordinary differential equations", "point-set topology", "group theory", "numerical methods",
                    "graph theory", "complex analysis", "measure theory"],
    "Physics": ["classical mechanics", "electromagnetism", "thermodynamics", "quantum mechanics",
                "special relativity", "geometric optics", "fluid dynamics", "statistical mechanics",
                "nuclear physics", "condensed matter physics", "astrophysics", "acoustics"],
    "Chemistry": ["organic reaction mechanisms", "chemical kinetics", "electrochemistry", "acid-base equilibria",
                  "thermochemistry", "coordination chemistry", "polymer chemistry", "spectroscopy",
                  "periodic trends", "stereochemistry", "chemical bonding", "analytical chemistry"],
    "Biology": ["cell signaling", "Mendelian genetics", "evolutionary biology", "molecular biology",
                "ecology", "immunology", "microbiology", "plant physiology", "neuroscience",
                "developmental biology", "bioenergetics", "population genetics"],
    "Medicine": ["cardiology", "pharmacology", "infectious diseases", "endocrinology", "oncology",
                 "emergency medicine", "pediatrics", "neurology", "nephrology", "medical ethics",
                 "epidemiology", "radiology"],
    "Computer Science": ["algorithms", "data structures", "operating systems", "computer networks",
                         "compilers", "database systems", "distributed systems", "computational complexity",
                         "computer architecture", "machine learning", "cryptography", "formal languages"],
    "Software Engineering": ["design patterns", "unit testing", "continuous integration", "microservices",
                             "code review", "refactoring", "API design", "version control workflows",
                             "software architecture", "technical debt", "observability", "concurrency bugs"],
    "Economics": ["microeconomic theory", "macroeconomic policy", "game theory", "labor economics",
                  "international trade", "monetary economics", "behavioral economics", "public finance",
                  "development economics", "industrial organization", "econometrics", "economic history"],
    "Finance": ["corporate finance", "portfolio theory", "derivatives pricing", "fixed income",
                "risk management", "financial statement analysis", "valuation", "behavioral finance",
                "market microstructure", "banking regulation", "venture capital", "personal finance"],
    "Law": ["contract law", "tort law", "constitutional law", "criminal procedure", "intellectual property",
            "international law", "administrative law", "corporate law", "evidence law", "property law",
            "employment law", "data protection law"],
    "History": ["the French Revolution", "the Roman Republic", "the Cold War", "the Industrial Revolution",
                "the Ming dynasty", "the Ottoman Empire", "World War I", "decolonization in Africa",
                "the Renaissance", "the American Civil War", "the Meiji Restoration", "the Silk Road"],
    "Philosophy": ["epistemology", "ethics", "philosophy of mind", "metaphysics", "logic",
                   "political philosophy", "existentialism", "philosophy of science", "aesthetics",
                   "Stoicism", "utilitarianism", "phenomenology"],
    "Psychology": ["cognitive psychology", "developmental psychology", "social psychology",
                   "clinical psychology", "personality theory", "memory research", "motivation",
                   "psychometrics", "behavioral conditioning", "perception", "decision making",
                   "positive psychology"],
    "Literature": ["Shakespearean tragedy", "the Victorian novel", "modernist poetry", "magical realism",
                   "Greek epic poetry", "postcolonial literature", "the Romantic poets", "literary theory",
                   "the short story", "Russian realism", "science fiction", "narrative point of view"],
    "Linguistics": ["phonology", "syntax", "semantics", "pragmatics", "sociolinguistics",
                    "historical linguistics", "language acquisition", "morphology", "psycholinguistics",
                    "computational linguistics", "writing systems", "language typology"],
    "Geography": ["plate tectonics", "urbanization", "climate zones", "river systems", "population geography",
                  "geopolitics", "cartography", "economic geography", "glaciation", "desertification",
                  "migration patterns", "coastal processes"],
    "Political Science": ["comparative politics", "electoral systems", "international relations",
                          "public policy analysis", "political ideologies", "federalism", "democratization",
                          "political economy", "voting behavior", "authoritarian regimes",
                          "separation of powers", "diplomacy"],
    "Sociology": ["social stratification", "sociology of education", "urban sociology", "social movements",
                  "sociology of religion", "deviance", "family sociology", "globalization",
                  "race and ethnicity", "gender studies", "social networks", "organizational sociology"],
    "Engineering": ["control systems", "signal processing", "structural analysis", "heat transfer",
                    "power electronics", "materials science", "robotics", "fluid machinery",
                    "digital circuit design", "manufacturing processes", "systems engineering",
                    "reliability engineering"],
    "Earth Science": ["mineralogy", "volcanology", "oceanography", "meteorology", "hydrology",
                      "paleontology", "seismology", "soil science", "atmospheric chemistry",
                      "sedimentology", "glaciology", "geochronology"],
    "Art History": ["Impressionism", "Baroque art", "Byzantine mosaics", "Cubism", "Ukiyo-e prints",
                    "Renaissance architecture", "Abstract Expressionism", "Art Nouveau", "Bauhaus design",
                    "Gothic cathedrals", "Surrealism", "Islamic geometric art"],
    "Music Theory": ["harmony", "counterpoint", "sonata form", "jazz improvisation", "rhythm and meter",
                     "orchestration", "modal scales", "voice leading", "twelve-tone technique",
                     "chord progressions", "ear training", "film scoring"],
    "Business Management": ["strategic planning", "change management", "supply chain management",
                            "organizational behavior", "project management", "negotiation", "leadership",
                            "operations management", "business model design", "corporate governance",
                            "human resources management", "entrepreneurship"],
    "Marketing": ["brand positioning", "consumer behavior", "digital advertising", "pricing strategy",
                  "market segmentation", "content marketing", "customer retention", "product launches",
                  "marketing analytics", "B2B sales funnels", "social media strategy", "market research"],
    "Education": ["curriculum design", "formative assessment", "classroom management", "educational psychology",
                  "inclusive education", "online learning design", "literacy instruction",
                  "mathematics education", "project-based learning", "teacher professional development",
                  "educational technology", "early childhood education"],
    "Environmental Science": ["climate change mitigation", "biodiversity loss", "water pollution",
                              "renewable energy", "carbon cycle", "environmental impact assessment",
                              "waste management", "air quality", "sustainable agriculture",
                              "ocean acidification", "deforestation", "environmental policy"],
    "Nutrition": ["macronutrients", "micronutrient deficiencies", "sports nutrition", "gut microbiome",
                  "metabolism", "dietary guidelines", "food safety", "clinical nutrition",
                  "nutrition in pregnancy", "food processing", "obesity research", "vegetarian diets"],
    "Statistics": ["hypothesis testing", "Bayesian inference", "linear regression", "experimental design",
                   "time series analysis", "survival analysis", "causal inference", "sampling methods",
                   "nonparametric statistics", "multilevel models", "bootstrap methods", "statistical power"],
    "Data Science": ["feature engineering", "data cleaning", "model evaluation", "recommender systems",
                     "natural language processing", "anomaly detection", "A/B testing", "data visualization",
                     "clustering", "gradient boosting", "data pipelines", "dimensionality reduction"],
    "Cybersecurity": ["threat modeling", "network intrusion detection", "malware analysis", "access control",
                      "web application security", "incident response", "public key infrastructure",
                      "social engineering", "secure software development", "cloud security",
                      "penetration testing methodology", "zero trust architecture"],
}
ALL_TOPICS = [(s, t) for s, subs in TAXONOMY.items() for t in subs]


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word

# task types of a taxonomy sweep: name -> (phrasings, completion median tokens, sigma)
SWEEP_TASKS = {
    "explain": (["Explain the key concepts of {t} in {s} for {a_lvl} learner.",
                 "Give a thorough explanation of {t} ({s}) suitable for {a_lvl} audience.",
                 "Explain {t} in {s}. Target level: {lvl}."], 900, 0.35),
    "study_guide": (["Write a comprehensive study guide on {t} in {s}, at {lvl} level.",
                     "Create a complete {lvl}-level study guide for {t} ({s})."], 1400, 0.3),
    "mcq": (["Generate 10 multiple-choice exam questions on {t} ({s}) at {lvl} level, with the correct answer "
             "and an explanation for each.",
             "Write 10 {lvl} multiple choice questions about {t} in {s}. Include answers and explanations."],
            1500, 0.3),
    "facts": (["List the 20 most important facts about {t} in {s} that {a_lvl} student should know.",
               "What are the 20 key facts about {t} ({s})? Level: {lvl}."], 800, 0.3),
    "misconceptions": (["What are the most common misconceptions about {t} in {s}? Correct each one in detail "
                        "for {a_lvl} learner.",
                        "List common misconceptions about {t} ({s}) and explain why each is wrong."], 1000, 0.3),
    "worked_example": (["Write a detailed worked example illustrating {t} in {s}, at {lvl} level.",
                        "Provide a step-by-step worked example of {t} ({s}) for {a_lvl} student."], 1100, 0.35),
    "compare": (["Compare and contrast the main approaches, theories or schools of thought in {t} ({s}).",
                 "What are the main competing views in {t} within {s}? Compare them in depth."], 1100, 0.3),
    "history": (["Summarize the history and major developments of {t} in {s}.",
                 "Give a detailed history of how {t} developed as a field of {s}."], 1000, 0.3),
    "glossary": (["Create a glossary of 25 terms used in {t} ({s}) with clear definitions.",
                  "Define the 25 most important terms in {t} ({s}) for {a_lvl} reader."], 1100, 0.3),
    "lesson_plan": (["Design a 4-week lesson plan teaching {t} ({s}) to {lvl} students.",
                     "Write a detailed 4-week course outline on {t} in {s} for {lvl} learners."], 1300, 0.3),
    "essay": (["Write an in-depth essay of about 1500 words on an open question in {t} ({s}).",
               "Write a long-form essay (1500 words) discussing a central debate in {t} within {s}."], 2000, 0.25),
    "practice": (["Give 5 practice problems on {t} ({s}) at {lvl} level with fully worked solutions.",
                  "Write 5 {lvl}-level exercises about {t} in {s}, each with a complete solution."], 1600, 0.3),
    "dialogue": (["Explain {t} ({s}) as a Socratic dialogue between a teacher and {a_lvl} student.",
                  "Write a teaching dialogue about {t} in {s} between a professor and {a_lvl} student."],
                 1200, 0.3),
    "applications": (["What are the real-world applications of {t} in {s}? Give detailed examples.",
                      "Describe 8 real-world applications of {t} ({s}) with concrete examples."], 1000, 0.3),
    "interview": (["Write 10 interview questions about {t} ({s}) with model answers at {lvl} level.",
                   "Create 10 {lvl} interview questions on {t} in {s} and give an ideal answer to each."],
                  1500, 0.3),
    "eli12": (["Explain {t} ({s}) in simple language for a 12-year-old, then give a harder version for {a_lvl} "
               "reader.",
               "Explain {t} from {s} to a child, and then again to {a_lvl} learner."], 800, 0.3),
}
SWEEP_PASS_NOTES = ["Take a different angle than a standard textbook treatment.",
                    "Focus on less commonly discussed details.", "Use entirely new examples.",
                    "Go deeper than an introductory treatment.", "Emphasise practical, real-world cases.",
                    "Approach it from a historical perspective.", "Highlight subtle points experts debate."]
SWEEP_LEVELS = ["beginner", "intermediate", "advanced", "graduate"]
SWEEP_LANGS = ["Chinese", "Spanish", "French", "German", "Japanese", "Russian", "Arabic", "Portuguese", "Korean"]

COT_SUFFIXES = [
    "Think step by step and show all of your work.",
    "Let's think step by step.",
    "Reason through the problem carefully before answering. Put your complete reasoning inside "
    "<thinking></thinking> tags, then give the final answer.",
    "Explain your full chain of thought, including approaches you considered and rejected.",
    "Show every intermediate step; do not skip any calculation. Put the final answer in \\boxed{}.",
    "First restate the problem, list what is known, solve it step by step, then verify the answer.",
    "Provide a detailed, rigorous solution with a justification for each step.",
    "Walk me through your reasoning in detail, as if you were thinking out loud.",
    "Write out your complete reasoning process, then state the answer on a final line starting with 'Answer:'.",
    "Solve it in two different ways and check that the answers agree. Show all reasoning.",
    "Explain each step and why it is valid. Be exhaustive.",
    "Output format:\nReasoning: <detailed step-by-step reasoning>\nFinal answer: <answer>",
    "Before the answer, think about the problem at length and write down every thought.",
    "Break the problem into sub-problems, solve each one explicitly, then combine them.",
]
REASONING_PERSONAS = [
    "", "", "You are a meticulous mathematician. ", "You are an expert problem solver. ",
    "You are a careful teacher who never skips steps. ", "You are a world-class competition coach. ",
]
NAMES = ["Alice", "Bob", "Carlos", "Dana", "Elif", "Farah", "Gustav", "Hana", "Ivan", "Jia", "Kofi", "Lena",
         "Mateo", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Viktor", "Wen", "Yusuf",
         "Zoe", "Marta", "Leo", "Aisha", "Ben", "Chloe"]
CODE_TASKS = [
    "returns the length of the longest substring without repeating characters",
    "merges k sorted linked lists into one sorted list",
    "finds the median of two sorted arrays in logarithmic time",
    "returns all permutations of a string without duplicates",
    "detects a cycle in a directed graph",
    "computes the edit distance between two strings",
    "serializes and deserializes a binary tree",
    "finds the k most frequent elements in an array",
    "implements an LRU cache with O(1) get and put",
    "returns the number of islands in a 2D grid",
    "finds the shortest path in a weighted graph with non-negative weights",
    "checks whether a Sudoku board is valid",
    "returns the maximum sum of a contiguous subarray",
    "computes the number of ways to climb n stairs taking 1, 2 or 3 steps",
    "finds the lowest common ancestor of two nodes in a binary search tree",
    "implements a trie with insert, search and prefix search",
    "schedules tasks with dependencies (topological sort) and reports cycles",
    "evaluates an arithmetic expression with +, -, *, / and parentheses",
    "finds all subsets of a set that sum to a target",
    "computes the convex hull of a set of 2D points",
    "implements a rate limiter using the token bucket algorithm",
    "merges overlapping intervals",
    "finds the longest increasing subsequence",
    "rotates an n x n matrix by 90 degrees in place",
    "implements binary search on a rotated sorted array",
    "counts inversions in an array",
    "returns the minimum window substring containing all characters of another string",
    "implements Dijkstra's algorithm with a binary heap",
    "validates a string of brackets",
    "computes the maximum flow in a network",
]
PROG_LANGS = ["Python", "Python", "Python", "JavaScript", "TypeScript", "Java", "C++", "Go", "Rust", "C#"]
BUGGY_SNIPPETS = [
    "def {f}(xs):\n    total = 0\n    for i in range(1, len(xs)):\n        total += xs[i]\n    return total / len(xs)",
    "def {f}(s):\n    return s == s[::-1] if len(s) > 1 else False",
    "def {f}(n):\n    if n == 0:\n        return 0\n    return n * {f}(n - 1)",
    "def {f}(a, b):\n    while b:\n        a = b\n        b = a % b\n    return a",
    "def {f}(arr, target):\n    lo, hi = 0, len(arr)\n    while lo < hi:\n        mid = (lo + hi) // 2\n"
    "        if arr[mid] < target:\n            lo = mid\n        else:\n            hi = mid\n    return lo",
    "def {f}(words):\n    counts = {{}}\n    for w in words:\n        counts[w] = counts.get(w) + 1\n    return counts",
    "def {f}(m):\n    return [[m[j][i] for j in range(len(m))] for i in range(len(m))]",
    "def {f}(xs):\n    for i in range(len(xs)):\n        for j in range(len(xs) - i):\n"
    "            if xs[j] > xs[j + 1]:\n                xs[j], xs[j + 1] = xs[j + 1], xs[j]\n    return xs",
]
FUNC_NAMES = ["average", "is_pal", "fact", "gcd", "lower_bound", "word_count", "transpose", "bubble", "solve",
              "compute", "helper", "process", "f", "calc", "check"]


def _reasoning_problem(r: random.Random, k: int | None = None) -> tuple[str, str]:
    """One freshly generated reasoning problem: (kind, text); ``k`` picks the problem family (0-19)."""
    if k is None:
        k = r.randrange(20)
    n1, n2 = r.sample(NAMES, 2)
    if k == 0:
        a, b, m = r.randint(2, 12), r.randint(3, 15), r.randint(2, 6)
        return "math", (f"{n1} can paint a fence in {a} hours and {n2} can paint it in {b} hours. Working "
                        f"together, how long will it take them to paint {m} identical fences?")
    if k == 1:
        v, p1, p2 = r.randint(50, 900), r.randint(2, 15), r.randint(20, 60)
        p3 = r.randint(p1 + 1, p2 - 1)
        return "math", (f"A chemist has {v} mL of a {p1}% saline solution. How many mL of a {p2}% solution must "
                        f"be added to obtain a {p3}% solution?")
    if k == 2:
        red, blue, green = r.randint(2, 9), r.randint(2, 9), r.randint(1, 7)
        kk = r.randint(2, 5)
        j = r.randint(0, min(kk, red))
        return "prob", (f"A bag contains {red} red, {blue} blue and {green} green marbles. {kk} marbles are drawn "
                        f"without replacement. What is the probability that exactly {j} of them are red?")
    if k == 3:
        big, a, b, p = r.choice([100, 500, 1000, 2025, 10000]), r.randint(1, 20), r.randint(1, 50), r.choice(
            [3, 5, 7, 11, 13])
        return "nt", f"Find the number of positive integers n <= {big} such that n^2 + {a}n + {b} is divisible by {p}."
    if k == 4:
        a, c, d, kk, m = r.randint(1, 9), r.randint(2, 5), r.randint(1, 9), r.randint(10, 200), r.choice(
            [7, 9, 11, 13, 17, 100, 1000])
        return "nt", f"Let a_1 = {a} and a_(n+1) = {c}*a_n - {d}. Find a_{kk} modulo {m}."
    if k == 5:
        a, b = r.randint(4, 20), r.randint(4, 20)
        c = r.randint(abs(a - b) + 1, a + b - 1)
        return "geo", f"A triangle has sides {a}, {b} and {c}. Find its area, its inradius and its circumradius."
    if k == 6:
        n = r.randint(5, 12)
        return "comb", (f"In how many ways can {n} people be seated around a round table if {n1} and {n2} refuse "
                        f"to sit next to each other?")
    if k == 7:
        kk, a, b = r.randint(1, 4), r.randint(1, 5), r.randint(1, 3)
        return "calc", f"Evaluate the integral of x^{kk} * e^({a}x) from 0 to {b}."
    if k == 8:
        a, b, c, d = r.randint(2, 6), r.randint(2, 12), r.randint(1, 20), r.randint(2, 8)
        return "calc", f"Find the global maximum and minimum of f(x) = {a}x^3 - {b}x^2 + {c}x on [0, {d}]."
    if k == 9:
        p = r.sample(NAMES, 3)
        s1 = r.choice([f"'{p[1]} is a knave.'", f"'{p[1]} and I are the same type.'", f"'{p[2]} is a knight.'"])
        s2 = r.choice([f"'{p[0]} and {p[2]} are the same type.'", "'Exactly one of us is a knight.'",
                       f"'{p[0]} is lying.'"])
        s3 = r.choice([f"'{p[0]} is a knight.'", "'All of us are knaves.'", f"'{p[1]} is a knave.'"])
        return "logic", (f"On an island, knights always tell the truth and knaves always lie. {p[0]} says: {s1} "
                         f"{p[1]} says: {s2} {p[2]} says: {s3} Determine who is a knight and who is a knave.")
    if k == 10:
        m, th, mu, d = round(r.uniform(0.5, 20), 1), r.choice([15, 20, 25, 30, 35, 40, 45]), round(
            r.uniform(0.05, 0.5), 2), r.randint(2, 40)
        return "phys", (f"A {m} kg block slides down a {th} degree incline with a coefficient of kinetic friction "
                        f"of {mu}. Starting from rest, how fast is it moving after {d} m?")
    if k == 11:
        r1, r2, r3, v = r.randint(2, 100), r.randint(2, 100), r.randint(2, 100), r.choice([5, 9, 12, 24, 48])
        return "phys", (f"Resistors of {r1}, {r2} and {r3} ohms are connected with the first in series with the "
                        f"parallel combination of the other two, across a {v} V battery. Find the current through "
                        f"and the power dissipated in each resistor.")
    if k == 12:
        g = r.randint(5, 500)
        rx = r.choice([("methane", "carbon dioxide"), ("glucose", "ethanol"), ("calcium carbonate", "calcium oxide"),
                       ("propane", "water"), ("iron(III) oxide", "iron"), ("ammonia", "nitric oxide")])
        return "chem", (f"How many grams of {rx[1]} are produced when {g} g of {rx[0]} react completely? Write the "
                        f"balanced equation first.")
    if k == 13:
        return "code", (f"Write a {r.choice(PROG_LANGS)} function that {r.choice(CODE_TASKS)}. Analyze its time and "
                        f"space complexity and argue why it is correct.")
    if k == 14:
        f = r.choice(FUNC_NAMES)
        snippet = r.choice(BUGGY_SNIPPETS).format(f=f)
        return "debug", (f"The following Python function has a bug. Find it, explain your reasoning, and fix it:"
                         f"\n```python\n{snippet}\n```")
    if k == 15:
        a, b, c, fx = r.randint(50, 500), round(r.uniform(0.5, 5), 1), r.randint(5, 60), r.randint(100, 5000)
        return "econ", (f"A monopolist faces inverse demand P = {a} - {b}Q and cost C(Q) = {c}Q + {fx}. Find the "
                        f"profit-maximizing output and price, the profit, and the deadweight loss.")
    if k == 16:
        s, sp, p = r.randint(80, 99), r.randint(80, 99), round(r.uniform(0.1, 10), 1)
        return "prob", (f"A test for a disease has sensitivity {s}% and specificity {sp}%. The prevalence is "
                        f"{p}%. A person tests positive twice on independent tests. What is the probability "
                        f"that they have the disease?")
    if k == 17:
        thing = r.choice(["piano tuners", "gas stations", "dentists", "golf balls", "hairdressers",
                          "traffic lights", "coffee cups sold per day", "elevators", "school buses"])
        place = r.choice(["Chicago", "Germany", "Tokyo", "Brazil", "London", "India", "Canada", "Lagos"])
        return "fermi", f"Estimate how many {thing} there are in {place}. State every assumption and calculation."
    if k == 18:
        inner = _reasoning_problem(r, r.randrange(18))[1]
        ans = r.randint(2, 999)
        return "rubric", (f"Problem: {inner}\n\nStudent solution: After setting up the equations and simplifying, "
                          f"I get {ans}. So the answer is {ans}.\n\nGrade this solution with the rubric: "
                          f"(1) correctness of the final answer (0-4), (2) validity of each step (0-4), "
                          f"(3) clarity (0-2). Justify every score with detailed reasoning, then give the total.")
    inner = _reasoning_problem(r, r.randrange(18))[1]
    return "compare", (f"Question: {inner}\n\nResponse A: The answer is {r.randint(2, 500)}.\nResponse B: Setting "
                       f"up the problem carefully gives {r.randint(2, 500)}.\n\nWhich response is better? Reason "
                       f"step by step about correctness and helpfulness before deciding.")


# the campaign operator's master templates (re-used across many of its accounts)
CAMPAIGN_TEMPLATES = [
    "You are an expert {role} combining {quality} with deep domain knowledge of {topic}. Your goal is to deliver "
    "insights grounded in real data and supported by complete and transparent reasoning.\n\nTask: {task}",
    "Act as a senior {role}. A client asks: \"{question}\" Provide a thorough answer, explaining each step of "
    "your reasoning and every assumption you make.",
    "I am preparing training material on {topic} for {audience}. Write a detailed explanation covering "
    "definitions, key mechanisms, worked examples and common pitfalls.",
    "Question: {question}\n\nAnswer the question above. Think carefully, reason step by step, and then give a "
    "final, well-structured answer.",
    "Write a {length} {fmt} about {topic} for {audience}. Include concrete examples and explain your reasoning.",
    "Solve the following problem and explain your reasoning in detail:\n{problem}",
    "Generate {n} diverse, high-quality question-answer pairs about {topic}. Each answer must contain a detailed "
    "explanation.",
    "Role: {role}\nContext: {audience} needs help with {topic}.\nInstruction: {task}\nOutput requirements: "
    "detailed, well-structured, reasoning shown explicitly.",
    "Implement a {lang} program that {code}. Include comments, tests, and an explanation of the design choices "
    "and their complexity.",
    "Explain {topic} in depth, as you would to {audience}. Then list 5 follow-up questions a curious reader might "
    "ask, and answer each one.",
    "You are a {role}. Carefully analyse the following scenario and give your professional assessment with "
    "step-by-step reasoning: {scenario}",
    "Please provide an expert-level answer. {question} Be comprehensive; cover edge cases and cite the principles "
    "you rely on.",
    "Rewrite the following explanation so that it is more rigorous and complete, then explain every change you "
    "made:\n\n{snippet}",
    "Create a detailed, step-by-step tutorial on {topic} for {audience}, with exercises and solutions.",
    "As an experienced {role}, compare {topic} with {topic2}. Structure the answer as: overview, key "
    "differences, trade-offs, recommendation, with reasoning for each point.",
    "Task: {task}\nConstraints: answer in {language}; show your reasoning; at least {words} words.",
]
CAMPAIGN_ROLES = ["data analyst", "software architect", "physician", "financial analyst", "lawyer",
                  "research scientist", "teacher", "product manager", "security engineer", "economist",
                  "mathematician", "management consultant", "pharmacist", "civil engineer", "historian",
                  "machine learning engineer", "tax advisor", "psychologist", "marketing strategist",
                  "DevOps engineer"]
CAMPAIGN_QUALITIES = ["statistical rigor", "engineering discipline", "clinical precision", "analytical depth",
                      "scientific skepticism", "practical experience", "pedagogical clarity"]
AUDIENCES = ["first-year university students", "senior engineers", "a non-technical manager",
             "high school students", "new employees", "graduate students", "a small business owner",
             "a hospital team", "policy makers", "retail investors", "junior developers"]
FORMATS = ["report", "essay", "guide", "blog post", "technical memo", "briefing", "lecture note", "FAQ"]
LENGTHS = ["1000-word", "detailed", "comprehensive", "2000-word", "long", "thorough"]
SCENARIOS = [
    "a mid-sized retailer sees revenue fall {p}% after changing its pricing page while traffic stays flat",
    "a {age}-year-old patient presents with chest pain radiating to the left arm and a normal ECG",
    "a startup's Postgres database slows down sharply once the orders table passes {n} million rows",
    "a city considers congestion pricing for its downtown area with {n}00,000 daily commuters",
    "a company discovers that an employee emailed customer records to a personal account",
    "a factory's defect rate rose from 1.{p}% to 4.{p}% after a supplier change",
    "a tenant withholds rent because the landlord has not repaired the heating for {n} weeks",
    "a mobile app's day-7 retention dropped by {p} percentage points after a redesign",
    "a bridge shows new cracks near a support after an unusually cold winter",
    "an investor holds {p}% of a portfolio in a single tech stock with large unrealized gains",
]


ASPECTS = ["its history", "its mathematical foundations", "recent advances", "applications in industry",
           "common misconceptions", "open research problems", "its ethical implications", "how it is taught",
           "its relation to neighbouring fields", "key experiments", "the most influential papers", "failure cases",
           "practical rules of thumb", "how experts reason about it", "measurement and evaluation", "its limitations",
           "real case studies", "its core definitions", "typical exam questions", "the debates around it",
           "worked numerical examples", "its future over the next decade", "tools and software used",
           "regional differences in practice"]
CONSTRAINTS = ["Use numbered sections.", "Include at least {n} concrete examples.", "Cite the key principles you use.",
               "End with a summary table.", "Keep the tone formal.", "Assume no prior knowledge.",
               "Include a short quiz at the end.", "Use analogies where helpful.", "Address at least {n} edge cases.",
               "Write at least {w} words.", "Explain every technical term you use.", "Give pros and cons for each "
               "point.", "Add a glossary at the end.", "Use Markdown formatting.", "Show the reasoning explicitly."]


def _aspect_topic(r: random.Random, t: str) -> str:
    return f"{t}, focusing on {r.choice(ASPECTS)}" if r.random() < 0.7 else t


def _constraint(r: random.Random) -> str:
    return r.choice(CONSTRAINTS).format(n=r.randint(2, 12), w=r.choice([300, 500, 800, 1000, 1200, 1500, 2000]))


def _campaign_question(r: random.Random) -> str:
    s, t = r.choice(ALL_TOPICS)
    return r.choice([
        f"What are the most important open problems in {t}, and why are they hard?",
        f"How does {t} relate to other areas of {s}?",
        f"What would a rigorous introduction to {t} cover, and in what order?",
        f"Why do experts in {s} disagree about {t}?",
        f"What mistakes do practitioners most often make in {t}, and how can they be avoided?",
        f"How has our understanding of {t} changed over the last thirty years?",
        f"What is the single most important idea in {t}, and what follows from it?",
        f"How would you evaluate a claim about {t} made in a popular article?",
    ])


def _campaign_templated(r: random.Random, tmpl: str) -> str:
    s, t = r.choice(ALL_TOPICS)
    s2, t2 = r.choice(ALL_TOPICS)
    sc = r.choice(SCENARIOS).format(p=r.randint(3, 40), n=r.randint(2, 90), age=r.randint(25, 80))
    lvl = r.choice(SWEEP_LEVELS)
    task_t = r.choice(list(SWEEP_TASKS.values()))[0][0].format(t=t, s=s, lvl=lvl, a_lvl=_a(lvl))
    text = tmpl.format(
        role=r.choice(CAMPAIGN_ROLES), quality=r.choice(CAMPAIGN_QUALITIES), topic=_aspect_topic(r, t), topic2=t2,
        task=task_t, question=_campaign_question(r), audience=r.choice(AUDIENCES), length=r.choice(LENGTHS),
        fmt=r.choice(FORMATS), problem=_reasoning_problem(r)[1], n=r.choice([5, 8, 10, 12, 15, 20]),
        lang=r.choice(PROG_LANGS), code=r.choice(CODE_TASKS), scenario=sc, language=r.choice(
            ["English", "English", "English", "Chinese", "Spanish", "German", "French", "Japanese"]),
        words=r.choice([300, 500, 800, 1000, 1500]),
        snippet=f"{t.capitalize()} is an important part of {s}. {r.choice(_SNIPPET_BITS)} "
                f"{r.choice(_SNIPPET_BITS)} Many people study it because {r.choice(_SNIPPET_ENDS)}",
    )
    if r.random() < 0.6:
        if not text.rstrip().endswith((".", "?", "!", ":", "\"")):
            text = text.rstrip() + "."
        text += ("\n\n" if r.random() < 0.5 else " ") + _constraint(r)
    return text


_SNIPPET_BITS = ["It is about how things work and why they matter.", "It was developed over many years.",
                 "Experts use it every day.", "It has many rules.", "Some parts are hard to understand.",
                 "It connects theory and practice.", "There are different schools of thought.",
                 "It is often misunderstood.", "It depends on the context."]
_SNIPPET_ENDS = ["it is useful.", "it helps in careers.", "it explains the world.", "exams require it.",
                 "it is interesting.", "companies need it."]


# free-form harvesting prompts: written to look like varied user queries (the operator's "synthetic users")
_FF_OPENERS = ["", "", "", "", "Hi! ", "Hey, ", "Quick question: ", "I need some help. ", "Can you help me? ",
               "Hello. ", "Please help: ", "So ", "Okay, ", "I've been wondering: "]
_FF_GOALS = ["learn {t} properly", "pass my exam on {t}", "explain {t} to my team", "write a report on {t}",
             "get better at {t}", "understand the math behind {t}", "teach {t} to beginners",
             "use {t} at work", "prepare an interview about {t}", "build a project around {t}"]


def _freeform_prompt(r: random.Random) -> str:
    s, t = r.choice(ALL_TOPICS)
    if r.random() < 0.5:
        t = _aspect_topic(r, t)
    _, t2 = r.choice(ALL_TOPICS)
    k = r.randrange(16)
    if k == 0:
        body = f"how does {t} actually work?"
    elif k == 1:
        body = f"what's the difference between {t} and {t2}, and when does each matter?"
    elif k == 2:
        body = f"can you explain {t} like I'm new to {s}? go into detail"
    elif k == 3:
        body = f"I'm trying to {r.choice(_FF_GOALS).format(t=t)}. What's the best approach, step by step?"
    elif k == 4:
        body = f"write me a {r.choice(LENGTHS)} {r.choice(FORMATS)} about {t}"
    elif k == 5:
        body = f"give me a step-by-step plan to {r.choice(_FF_GOALS).format(t=t)}"
    elif k == 6:
        body = f"write {r.choice(PROG_LANGS)} code that {r.choice(CODE_TASKS)}, and explain it line by line"
    elif k == 7:
        body = f"help me understand {t}, especially the parts people usually get wrong"
    elif k == 8:
        body = _reasoning_problem(r)[1] + " Please explain."
    elif k == 9:
        body = f"What are the pros and cons of {t}? Be thorough."
    elif k == 10:
        body = f"Summarize everything important about {t} in {s} in one long answer."
    elif k == 11:
        sc = r.choice(SCENARIOS).format(p=r.randint(3, 40), n=r.randint(2, 90), age=r.randint(25, 80))
        body = f"Here's my situation: {sc}. What should I do and why?"
    elif k == 12:
        body = f"what would a {r.choice(CAMPAIGN_ROLES)} say about {t}?"
    elif k == 13:
        body = f"Give me {r.choice([5, 7, 10])} hard questions about {t} and answer them in detail."
    elif k == 14:
        body = f"Is it true that {t} is mostly outdated? explain your reasoning"
    else:
        body = f"Teach me {t} from scratch. I know basic {s} but nothing more."
    tail = r.choice(["", "", "", "", f" {_constraint(r)}", " thanks", "?", f" ({r.choice(_FF_CONTEXT)})"])
    return r.choice(_FF_OPENERS) + body + tail


_FF_CONTEXT = ["for a class", "for work", "I'm a beginner", "I have an exam next week", "my boss asked me",
               "for my thesis", "asking for a friend", "I'm a nurse", "I'm a software engineer", "I'm 16",
               "I'm switching careers", "for a podcast episode", "for my blog", "for a presentation tomorrow"]


CAMPAIGN_FOLLOWUPS = ["Can you go deeper on the second point?", "Please continue.", "Give a concrete example.",
                      "Can you expand on that?", "What about edge cases?", "Explain that last part again, "
                      "more rigorously.", "continue", "Now summarize it in 5 bullet points.",
                      "Can you show the reasoning behind that?", "More detail please.", "Why is that?",
                      "OK, and how would an expert approach it?"]

# post-release capability probing
def _capability_prompt(r: random.Random) -> tuple[str, int]:
    """(prompt, completion median tokens)."""
    k = r.randrange(9)
    if k == 0:
        return (f"Write {r.choice(PROG_LANGS)} code that {r.choice(CODE_TASKS)}. Inputs can have up to "
                f"{r.choice(['1e3', '1e5', '1e6', '10^7', '2*10^5', '5000'])} elements; "
                f"{r.choice(_CODE_REQS)}. Provide production-quality code with tests and explain the design."), 1300
    if k == 1:
        return _reasoning_problem(r)[1] + " " + r.choice(COT_SUFFIXES), 1400
    if k == 2:
        tools = r.sample(["search(query)", "read_file(path)", "write_file(path, content)", "run_shell(cmd)",
                          "http_get(url)", "sql(query)", "send_email(to, body)", "calendar.create(event)"], 3)
        goal = r.choice([f"find the {r.randint(2, 10)} slowest API endpoints from the last {r.randint(2, 30)} days "
                         f"of logs and propose fixes",
                         f"migrate the {r.choice(['user', 'orders', 'events', 'billing'])} table to a new schema "
                         f"without downtime",
                         f"book a meeting with everyone who commented on the {r.choice(['design', 'launch', 'Q3'])} doc",
                         f"triage the {r.randint(5, 60)} newest bug reports and label them",
                         f"compile a pricing comparison of {r.randint(3, 12)} competitors into a spreadsheet",
                         f"find and fix the failing {r.choice(['integration', 'unit', 'e2e'])} test in the "
                         f"{r.choice(['payments', 'search', 'auth', 'checkout', 'mobile'])} service"])
        return (f"You are an autonomous agent with these tools: {', '.join(tools)}. Goal: {goal}. Think step by "
                f"step, plan your tool calls, and show each call with its expected result before the final "
                f"answer."), 1200
    if k == 3:
        s, t = r.choice(ALL_TOPICS)
        return (f"Write a {r.choice(LENGTHS)} {r.choice(FORMATS)} about {_aspect_topic(r, t)} ({s}) for "
                f"{r.choice(AUDIENCES)}. {_constraint(r)}"), 1500
    if k == 4:
        s, t = r.choice(ALL_TOPICS)
        lang = r.choice(SWEEP_LANGS)
        return f"Explain {_aspect_topic(r, t)} in {lang}, in depth, with {r.randint(2, 6)} examples.", 1000
    if k == 5:
        return _campaign_templated(r, r.choice(CAMPAIGN_TEMPLATES)), 1200
    if k == 6:
        f = r.choice(FUNC_NAMES) + r.choice(["", "", "_v2", "_fast", "_impl", f"_{r.randint(1, 99)}"])
        return (f"Review this code, find every bug and rewrite it properly{r.choice(_REVIEW_GOALS)}:\n```python\n"
                f"{r.choice(BUGGY_SNIPPETS).format(f=f)}\n```"), 700
    if k == 7:
        s, t = r.choice(ALL_TOPICS)
        return (f"Write {r.randint(5, 15)} challenging {r.choice(SWEEP_LEVELS)}-level exam questions on "
                f"{_aspect_topic(r, t)} with detailed model answers."), 1600
    return _freeform_prompt(r), 900


_CODE_REQS = ["handle invalid input gracefully", "use no external libraries", "optimize for memory",
              "make it thread-safe", "include type annotations", "write it in a functional style",
              "add logging", "support streaming input", "document every function", "avoid recursion"]
_REVIEW_GOALS = ["", "", " and explain each fix", " and add tests", " and explain the root cause",
                 ", keeping the same signature"]


# ---- benign templates ----------------------------------------------------------------------------------------

PASTE_INSTRUCTIONS = [
    ("can you make this shorter", 0.45), ("Rewrite the following in a more formal tone:", 1.0),
    ("fix the grammar please", 1.0), ("Translate this into German:", 1.15), ("translate to spanish", 1.1),
    ("tl;dr", 0.15), ("Summarize this in 3 bullet points:", 0.15), ("summarize", 0.25),
    ("Make this sound more friendly", 1.0), ("What are the main points here?", 0.3),
    ("rewrite this for a linkedin post", 0.8), ("Explain this to me in simple words", 0.7),
    ("is this correct?", 0.5), ("Proofread:", 1.0), ("give me a title for this", 0.05),
    ("Turn this into an email to my manager", 0.9), ("make it more concise", 0.6),
    ("Can you paraphrase this so it doesn't sound like AI wrote it", 1.0), ("key takeaways?", 0.25),
    ("Write 3 questions I could ask about this text", 0.2),
]
HUMAN_GREETINGS = ["", "", "", "", "", "hi, ", "Hi! ", "hey ", "Hello, ", "ok so ", "please ", "Can you help? ",
                   "Question: ", "quick one: "]
HUMAN_THANKS = ["", "", "", "", " thanks", " Thanks!", " pls", " please", " thx", "\n\nThank you.", " :)", "?"]

DEV_APP_TEMPLATES = [
    ("Write a product description for {x} in under 80 words.", 110, 600),
    ("Generate 3 catchy titles for a blog post about {x}.", 50, 200),
    ("Classify this support message into one of [billing, technical, account, other]. Reply with the label "
     "only.\n\nMessage: {m}", 3, 10),
    ("Translate to {lang}: {m}", 60, 400),
    ("Extract the name, email and company from this text as JSON:\n{m}", 45, 200),
    ("Suggest 5 tags for this note: {m}", 25, 100),
    ("Summarize this customer review in one sentence: {m}", 30, 120),
    ("Write a friendly reply to this customer message:\n{m}", 140, 500),
    ("Generate a SQL query for: {q}", 70, 400),
    ("Explain this error and how to fix it:\n{err}", 250, 1024),
]
DEV_PRODUCTS = ["a stainless steel water bottle", "noise-cancelling headphones", "an ergonomic office chair",
                "a vegan protein powder", "a smart thermostat", "a hiking backpack", "a ceramic pour-over set",
                "wireless earbuds", "a standing desk", "a kids' science kit", "organic green tea",
                "a mechanical keyboard", "running shoes", "a cast iron skillet"]
DEV_MESSAGES = ["I was charged twice this month, can you refund one of the payments?",
                "The app crashes every time I open the settings page on Android 14.",
                "How do I change the email address on my account?",
                "Your latest update deleted all my saved drafts!!",
                "Love the product, but shipping took almost three weeks.",
                "Can I upgrade my plan in the middle of the billing cycle?",
                "Hi, this is Maria Lopez from Brightline Ltd, reach me at maria.lopez@brightline.io",
                "The export to CSV button does nothing in Firefox.",
                "Meeting notes: ship v2 by Friday, Tom owns QA, budget approved.",
                "Great coffee, terrible packaging. Two bags arrived torn.",
                "Is there a student discount?", "I can't log in after resetting my password.",
                "Please cancel my subscription effective immediately.",
                "The dashboard shows the wrong time zone for my reports."]
_PRODUCT_ADJ = ["", "", "premium", "eco-friendly", "compact", "lightweight", "handmade", "budget", "pro-grade",
                "limited edition", "refurbished", "travel-size", "heavy-duty", "kids'", "vintage-style"]
_APP_NAMES = ["ShopPilot", "HelpDeskly", "NoteNinja", "TranslateHub", "QuerySmith", "ReplyBot", "TagWise",
              "BugBuddy", "ListingGen", "InboxZero AI"]
_SQL_METRICS = ["total revenue", "number of orders", "average basket size", "count of active users",
                "median delivery time", "refund rate", "number of signups", "sum of discounts", "churned customers",
                "page views", "support tickets opened", "inventory on hand"]
_SQL_DIMS = ["per month", "per week", "per country", "per product category", "per sales rep", "per store",
             "per acquisition channel", "per day of week", "per customer segment", "per warehouse"]
_SQL_FILTERS = ["in 2025", "in the last 30 days", "for customers in Germany", "excluding test accounts",
                "where the order was shipped late", "for the top 20 products", "since the last price change",
                "for premium members", "in Q3", "where the coupon code is not null"]


def _sql_ask(r: random.Random) -> str:
    tbl = r.choice(["orders", "users", "events", "payments", "tickets", "sessions", "products", "shipments"])
    cols = r.sample(["id", "user_id", "amount", "created_at", "country", "status", "category", "store_id",
                     "channel", "updated_at"], r.randint(3, 6))
    return (f"{r.choice(_SQL_METRICS)} {r.choice(_SQL_DIMS)} {r.choice(_SQL_FILTERS)} from {tbl}({', '.join(cols)})"
            + r.choice(["", "", ". Postgres", ". MySQL 8", ". BigQuery", ", ordered by date"]))


DEV_ERRORS = ["TypeError: Cannot read properties of undefined (reading 'map')",
              "ModuleNotFoundError: No module named 'pydantic_settings'",
              "psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint \"users_email_key\"",
              "Error: listen EADDRINUSE: address already in use :::3000",
              "RuntimeError: CUDA error: out of memory", "fatal: refusing to merge unrelated histories",
              "java.lang.NullPointerException at com.app.service.OrderService.process(OrderService.java:88)",
              "ValueError: Expected 2D array, got 1D array instead"]

AGENT_TASKS = ["Add pagination to the /users endpoint and update the tests",
               "Fix the flaky test in test_scheduler.py", "Refactor the payment module to use dependency injection",
               "Upgrade the project from React 18 to React 19 and fix the breaking changes",
               "Add input validation to the signup form", "Write a migration that adds a `deleted_at` column",
               "Find out why the CI build is failing on main", "Implement retry with exponential backoff in the "
               "HTTP client", "Add a dark mode toggle to the settings page", "Speed up the CSV import script",
               "Add type hints to utils/dates.py and fix mypy errors", "Set up a GitHub Actions workflow for lint",
               "Replace moment.js with date-fns", "Add caching to the product search endpoint",
               "Write unit tests for the invoice calculator", "Fix the memory leak in the websocket handler"]
AGENT_TOOL_RESULTS = [
    "Tool result (run_tests): {a} passed, {b} failed\nFAILED tests/test_{m}.py::test_{f} - AssertionError: "
    "assert {a} == {b}",
    "Tool result (read_file src/{m}/{f}.py): [{a} lines]",
    "Tool result (grep '{f}'): src/{m}/{f}.py:{a}: def {f}(self, request):\nsrc/{m}/views.py:{b}:     return "
    "{f}(req)",
    "Tool result (shell: git status): On branch feature/{f}-{b}{a}\nChanges not staged for commit:\n  modified: "
    "src/{m}/{f}.py",
    "Tool result (edit_file src/{m}/{f}.py): applied 1 edit ({a} lines changed)",
    "Tool result (run_shell: npm run build): Compiled with {b} warnings in {a}.2s",
    "Tool result (list_dir src/{m}): __init__.py  {f}.py  models.py  views.py  tests/",
    "{u}",
]
AGENT_USER = ["looks good, but also handle the case where {x} is empty", "no, don't change {x}. keep the old signature",
              "ok now run the tests for {x}", "commit it", "can you also update the docs for {x}?",
              "that broke {x}, revert the last change", "why did you change {x}?", "use the existing helper in {x}",
              "rename {x} to something clearer", "add a test for {x}", "ship it", "try again, it still fails on {x}",
              "keep it simpler", "what's left?", "also fix the lint errors in {x}"]

BATCH_JOBS = {
    "ticket_summary": (["Summarize the following customer support ticket in 3 bullet points. Include the "
                        "customer's main issue and the requested action.\n\nTicket:\n{doc}",
                        "You are a support operations assistant. Write a two-sentence summary of this ticket and "
                        "assign a priority (P1-P4).\n\n{doc}"], 90, 0.35, 256),
    "invoice_extract": (["Extract the following fields from the invoice and return JSON with keys invoice_number, "
                         "invoice_date, vendor, total_amount, currency. Use null for missing fields.\n\n{doc}",
                         "From the document below, extract vendor name, invoice number, date and total as a JSON "
                         "object. Return only JSON.\n\n{doc}"], 70, 0.2, 200),
    "review_sentiment": (["Classify the sentiment of this product review as positive, negative or neutral. Answer "
                          "with one word.\n\nReview: {doc}",
                          "Sentiment (positive/negative/neutral) and main topic of this review, as "
                          "'sentiment|topic':\n{doc}"], 4, 0.4, 10),
    "article_summary": (["Summarize the following article in about 100 words for an internal newsletter."
                         "\n\n{doc}",
                         "Write a short abstract (max 120 words) of the text below.\n\n{doc}"], 140, 0.25, 300),
    "email_triage": (["Categorize this email into one of: sales_lead, support, billing, spam, other. Then extract "
                      "the sender's request in one sentence. Format: category: ...\\nrequest: ...\n\n{doc}"],
                     35, 0.3, 100),
    "pii_redaction": (["Rewrite the following text replacing every person name, email address, phone number and "
                       "street address with [REDACTED]. Output only the rewritten text.\n\n{doc}"], 0, 0.15, 1024),
    "product_translation": (["Translate this product description into {lang}. Keep the formatting.\n\n{doc}"],
                            0, 0.15, 800),
}
_TICKET_ISSUES = ["cannot log in", "was double charged", "package never arrived", "app crashes on startup",
                  "wants to cancel the subscription", "needs an invoice copy", "reports a data export error",
                  "asks about a refund", "cannot reset the password", "received a damaged item",
                  "has a question about API limits", "sees the wrong currency at checkout"]
_REVIEW_BITS = ["The battery life is", "Customer service was", "Delivery was", "The quality of the material is",
                "Setup took", "For the price, this is", "The instructions were", "After two weeks of use it is",
                "The size is", "Compared to my old one, it is"]
_REVIEW_ENDS = ["excellent.", "terrible.", "fine, nothing special.", "better than expected!", "disappointing.",
                "ok I guess", "amazing, would buy again", "way too slow.", "about what I expected.",
                "a waste of money."]
_VENDORS = ["Acme Supplies GmbH", "Northwind Traders", "Globex Logistics", "Initech Services", "Umbrella Office Co.",
            "Stark Industrial", "Wayne Components", "Hooli Cloud", "Vandelay Imports", "Soylent Foods Ltd"]


def _batch_doc(r: random.Random, job: str, articles: list[str]) -> str:
    if job in ("article_summary", "product_translation", "pii_redaction") and articles and r.random() < 0.8:
        a = r.choice(articles)
        return a[: r.randint(600, 2500)]
    if job == "invoice_extract":
        return (f"INVOICE #{r.randint(10000, 999999)}\nDate: 2025-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}\n"
                f"From: {r.choice(_VENDORS)}\nBill to: {r.choice(_VENDORS)}\n"
                + "".join(f"Item {i + 1}: {r.choice(DEV_PRODUCTS)} x{r.randint(1, 40)} @ {r.randint(2, 900)}.00\n"
                          for i in range(r.randint(1, 6)))
                + f"Total: {r.randint(100, 90000)}.{r.randint(0, 99):02d} {r.choice(['EUR', 'USD', 'GBP'])}")
    if job == "review_sentiment":
        return " ".join(f"{r.choice(_REVIEW_BITS)} {r.choice(_REVIEW_ENDS)}" for _ in range(r.randint(1, 4)))
    name = r.choice(NAMES)
    body = " ".join(r.choice(DEV_MESSAGES) for _ in range(r.randint(1, 3)))
    return (f"From: {name.lower()}{r.randint(1, 99)}@example.com\nSubject: customer {r.choice(_TICKET_ISSUES)}"
            f"\n\nHi, {body} Order {r.randint(100000, 999999)}. Regards, {name}")


TUTOR_WRAPPERS = [
    "You are {bot}, a friendly tutor for a grade {g} student. Guide the student step by step, explain every "
    "step clearly, and check their understanding. Do not just give the answer.\n\nStudent: {q}",
    "[Tutor mode | grade {g} | {subj}] Explain step by step in simple language. Encourage the student.\n"
    "Question: {q}",
    "The following question comes from a grade {g} student on our homework help platform. Provide a clear, "
    "step-by-step explanation appropriate for their level, then a short practice question.\n\n{q}",
]
TUTOR_BOTS = ["Sparky", "Professor Owl", "Mia", "Tutorly", "Brainy", "Ada", "Coach Leo"]
_TUTOR_Q = [
    ("math", "how do i solve {a}x + {b} = {c}"), ("math", "what is {a}/{b} + {c}/{d}"),
    ("math", "can someone explain how to find the area of a circle with radius {a}"),
    ("math", "i dont get how to factor x^2 + {s}x + {p}"), ("math", "whats {a}% of {c}"),
    ("math", "how do you find the slope between ({a},{b}) and ({c},{d})"),
    ("math", "a train goes {c} km in {a} hours, how fast is it going? explain step by step"),
    ("math", "simplify ({a}x^2 * {b}x^3) / {d}x"), ("math", "how to do long division {c} divided by {a}"),
    ("math", "prove that the sum of angles in a triangle is 180"),
    ("science", "why do we have seasons"), ("science", "explain photosynthesis step by step"),
    ("science", "how many moles are in {c} grams of water"), ("science", "whats the difference between mitosis and "
                                                                        "meiosis"),
    ("science", "a ball is dropped from {c} m, how long until it hits the ground"),
    ("science", "how do i balance this equation: Fe + O2 -> Fe2O3"), ("science", "what is newtons third law with "
                                                                                "an example"),
    ("english", "how do i write a thesis statement for an essay about {book}"),
    ("english", "what is the theme of {book}"), ("english", "can you check if this sentence is correct: "
                                                           "\"me and him goes to the store yesterday\""),
    ("history", "what caused world war 1 explain simply"), ("history", "why did the roman empire fall"),
    ("coding", "why does my python loop print the same number {a} times"),
    ("coding", "what is a variable in programming"),
]
_TUTOR_BOOKS = ["To Kill a Mockingbird", "Of Mice and Men", "Romeo and Juliet", "The Giver", "Animal Farm",
                "Lord of the Flies", "The Outsiders", "Hatchet"]
TUTOR_FOLLOWUPS = ["i still dont get step {a}", "why do you divide there?", "can you show another example",
                   "ok i think i get it. is the answer {c}?", "wait what", "can u explain it simpler",
                   "thanks!! can you give me one more to practice", "is that right: {c}", "what does that word mean",
                   "how would i check my answer"]


def _tutor_question(r: random.Random) -> tuple[str, str]:
    subj, q = r.choice(_TUTOR_Q)
    a, b, c, d = r.randint(2, 12), r.randint(1, 20), r.randint(10, 300), r.randint(2, 9)
    q = q.format(a=a, b=b, c=c, d=d, s=r.randint(3, 12), p=r.choice([2, 6, 8, 12, 15, 20]),
                 book=r.choice(_TUTOR_BOOKS))
    if r.random() < 0.3:
        q = q + r.choice(["??", " pls help", " i have a test tomorrow", " (step by step pls)", "", " thx"])
    if r.random() < 0.2:
        q = q.capitalize()
    return subj, q


WORKSHOP_PROMPTS = [
    "Summarize the following meeting notes into a list of action items with owners:\n\nNotes: Q3 planning. "
    "Sarah to finalize the vendor shortlist by Friday. Dev team to estimate the migration effort. Marketing "
    "wants the launch date confirmed before the offsite. Budget review moved to next Tuesday.",
    "Draft a polite email to a customer explaining that their order will be delayed by two days.",
    "Explain what a pivot table is and how to create one in Excel.",
    "Give me 5 ideas for a team-building activity for a remote team of 12 people.",
    "Rewrite this sentence to be clearer: \"Per our previous discussion, the deliverables will be actioned in "
    "a timely manner going forward.\"",
    "What are three good practices for writing prompts for an AI assistant?",
    "Create an agenda for a 30-minute weekly project status meeting.",
    "Summarize the key points of our travel expense policy: economy class for flights under 6 hours, hotel up "
    "to 180 EUR per night, receipts required for all expenses above 25 EUR.",
]

# eval-harness benchmarks (fixed, like public benchmarks: built from a constant seed)
_MCQ_SUBJECTS = list(TAXONOMY)
_GSM_TEMPLATES = [
    "{n1} has {a} apples. She buys {b} more bags with {c} apples each and gives away {d}. How many apples does "
    "she have now?",
    "A shop sells pens for ${a} each and notebooks for ${b} each. {n1} buys {c} pens and {d} notebooks. How much "
    "does {n1} spend?",
    "{n1} reads {a} pages per day. The book has {c}0 pages. After {b} days, how many pages are left?",
    "A farmer has {a} cows and {b} times as many chickens. Each cow needs {d} kg of feed a day and each chicken "
    "needs 1/{d} kg. How much feed is needed per day?",
    "{n1} earns ${c} per week and saves {a}0% of it. How many weeks until she has saved ${c}00?",
    "A train travels {c} km at {a}0 km/h and then {b}0 km at {d}0 km/h. What is the total travel time in hours?",
    "There are {c} students. {a}0% of them play soccer and half of the rest play basketball. How many play "
    "basketball?",
    "{n1} bakes {a} trays of cookies with {c} cookies each. {n2} eats {d} and they sell the rest in packs of {b}. "
    "How many packs do they sell?",
]
_CODE_STUBS = [
    ("sum_even", "nums: list[int]", "int", "Return the sum of the even numbers in nums."),
    ("is_palindrome", "s: str", "bool", "Return True if s reads the same forwards and backwards, ignoring case."),
    ("count_vowels", "s: str", "int", "Return the number of vowels in s."),
    ("fizzbuzz", "n: int", "list[str]", "Return the FizzBuzz sequence from 1 to n."),
    ("flatten", "xs: list", "list", "Flatten an arbitrarily nested list."),
    ("unique_sorted", "xs: list[int]", "list[int]", "Return the sorted unique values of xs."),
    ("rotate", "xs: list, k: int", "list", "Rotate xs to the right by k positions."),
    ("word_freq", "text: str", "dict[str, int]", "Return a dict mapping each word to its frequency."),
    ("second_largest", "xs: list[int]", "int", "Return the second largest distinct value in xs."),
    ("is_prime", "n: int", "bool", "Return True if n is a prime number."),
    ("run_length", "s: str", "str", "Return the run-length encoding of s, e.g. 'aaab' -> 'a3b1'."),
    ("balanced", "s: str", "bool", "Return True if the brackets in s are balanced."),
]


def build_benchmarks() -> dict[str, list[tuple[str, int]]]:
    """Fixed benchmark suites (same for every seed, like public benchmarks): name -> [(prompt, completion)]."""
    r = random.Random(20240611)
    out: dict[str, list[tuple[str, int]]] = {}
    mcq = []
    for subj in _MCQ_SUBJECTS:
        others = [t for s, ts in TAXONOMY.items() if s != subj for t in ts]
        shots = []
        for i in range(5):
            t = TAXONOMY[subj][i]
            opts = r.sample(others, 3) + [t]
            r.shuffle(opts)
            shots.append(f"Which of the following is a topic studied in {subj.lower()}?\n"
                         + "".join(f"{L}. {o}\n" for L, o in zip("ABCD", opts))
                         + f"Answer: {'ABCD'[opts.index(t)]}")
        header = f"The following are multiple choice questions (with answers) about {subj.lower()}.\n\n"
        for _ in range(46):
            t = r.choice(TAXONOMY[subj])
            kind = r.randrange(3)
            if kind == 0:
                q = f"Which of the following is most closely associated with {subj.lower()}?"
                opts = r.sample(others, 3) + [t]
            elif kind == 1:
                q = f"A specialist in {t} would most likely work in which field?"
                opts = r.sample([s for s in TAXONOMY if s != subj], 3) + [subj]
            else:
                a, b = r.randint(10, 99), r.randint(2, 20)
                q = f"In a {t} exercise, a quantity grows from {a} by a factor of {b}. What is the new value?"
                opts = [str(a * b), str(a * b + b), str(a + b), str(a * (b - 1))]
            r.shuffle(opts)
            mcq.append((header + "\n\n".join(shots) + "\n\n" + q + "\n"
                        + "".join(f"{L}. {o}\n" for L, o in zip("ABCD", opts)) + "Answer:", 1))
    out["mcq"] = mcq
    gsm = []
    for _ in range(1000):
        n1, n2 = r.sample(NAMES, 2)
        q = r.choice(_GSM_TEMPLATES).format(n1=n1, n2=n2, a=r.randint(2, 9), b=r.randint(2, 9), c=r.randint(10, 60),
                                            d=r.randint(2, 9))
        gsm.append((f"Question: {q}\nLet's think step by step.\nAnswer:", int(r.lognormvariate(math.log(160), 0.3))))
    out["gsm"] = gsm
    code = []
    for i in range(164):
        name, args, ret, doc = _CODE_STUBS[i % len(_CODE_STUBS)]
        suffix = "" if i < len(_CODE_STUBS) else f"_{i // len(_CODE_STUBS)}"
        ex = r.randint(1, 50)
        code.append((f"Complete the following Python function.\n\n```python\ndef {name}{suffix}({args}) -> {ret}:\n"
                     f"    \"\"\"{doc}\n\n    >>> {name}{suffix}(...)  # example {ex}\n    \"\"\"\n```",
                     int(r.lognormvariate(math.log(140), 0.4))))
    out["code"] = code
    judge = []
    for _ in range(160):
        q = _reasoning_problem(r)[1] if r.random() < 0.5 else _campaign_question(r)
        judge.append(("[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response "
                      "provided by an AI assistant to the user question displayed below. Your evaluation should "
                      "consider correctness, helpfulness and depth. Begin your evaluation with a short "
                      "explanation, then rate the response on a scale of 1 to 10 as \"[[rating]]\".\n\n"
                      f"[Question]\n{q}\n\n[The Start of Assistant's Answer]\nThe answer is "
                      f"{r.randint(1, 999)}, because the quantities combine as described.\n"
                      "[The End of Assistant's Answer]", int(r.lognormvariate(math.log(220), 0.3))))
    out["judge"] = judge
    return out


BENCH_MAXTOK = {"mcq": [1, 5, 5, 16], "gsm": [512, 512, 1024, 256], "code": [512, 768, 1024], "judge": [1024, 2048]}


# --------------------------------------------------------------------------------------------------------------
# network identities: IPs and user agents
# --------------------------------------------------------------------------------------------------------------

# region -> (share of benign humans, UTC offsets (hours), first octets of residential/ISP address space)
REGIONS = {
    "na": (0.33, [-8, -7, -6, -5, -5, -5, -6, -8, -4],
           [24, 47, 50, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 96, 97, 98, 99, 107, 108, 173, 174]),
    "eu": (0.25, [0, 1, 1, 1, 2, 2, 0, 3, 1],
           [2, 5, 31, 37, 46, 62, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 109,
            176, 178, 185, 188, 212, 213, 217]),
    "in": (0.08, [5.5], [49, 103, 106, 117, 122, 157, 182, 223]),
    "ea": (0.12, [8, 8, 9, 9, 8], [1, 14, 27, 36, 39, 42, 58, 59, 60, 61, 101, 110, 111, 112, 113, 114, 115, 116,
                                   118, 119, 120, 121, 123, 124, 125, 126, 175, 180, 183, 211, 218, 219, 220, 221]),
    "sea": (0.05, [7, 7, 8], [27, 49, 103, 115, 171, 180, 202, 203]),
    "latam": (0.09, [-3, -3, -5, -6, -4], [177, 179, 181, 186, 187, 189, 190, 191, 200, 201]),
    "oc": (0.03, [10, 11, 12], [1, 49, 101, 110, 120, 121, 124, 144, 203]),
    "mea": (0.05, [2, 3, 3, 4, 1], [5, 31, 37, 41, 102, 105, 154, 156, 196, 197]),
}
REGION_NAMES = list(REGIONS)
REGION_P = np.array([REGIONS[k][0] for k in REGION_NAMES]) / sum(REGIONS[k][0] for k in REGION_NAMES)
DATACENTER_OCTETS = [3, 13, 18, 20, 23, 34, 35, 40, 44, 52, 54, 104, 128, 134, 137, 138, 139, 142, 143, 146, 147,
                     157, 159, 161, 164, 165, 167, 168, 170, 192, 198, 199, 206, 209]


def _ip(r: random.Random, octets: list[int]) -> str:
    return f"{r.choice(octets)}.{r.randrange(256)}.{r.randrange(256)}.{r.randint(1, 254)}"


def residential_ip(r: random.Random, region: str | None = None) -> str:
    reg = region or r.choices(REGION_NAMES, weights=list(REGION_P))[0]
    return _ip(r, REGIONS[reg][2])


def datacenter_ip(r: random.Random) -> str:
    return _ip(r, DATACENTER_OCTETS)


_CHROME_NOW = list(range(141, 147))  # major versions current in 2026
_FIREFOX_NOW = list(range(143, 149))
_SAFARI_NOW = ["18.6", "26.0", "26.1", "26.2", "26.3"]
_IOS_NOW = ["18_6", "26_0", "26_1", "26_2", "26_3"]


def browser_ua(r: random.Random, stale: bool = False, mobile_p: float = 0.25) -> str:
    """A realistic browser user agent; ``stale`` draws versions from a long list (like fake-UA libraries)."""
    chrome = r.randint(110, 146) if stale else r.choices(_CHROME_NOW, weights=[1, 2, 3, 6, 10, 8])[0]
    firefox = r.randint(115, 148) if stale else r.choices(_FIREFOX_NOW, weights=[1, 1, 2, 4, 8, 6])[0]
    safari = r.choice(["16.6", "17.0", "17.4", "17.6", "18.0", "18.3", "18.6", "26.1"]) if stale else r.choices(
        _SAFARI_NOW, weights=[3, 2, 3, 6, 4])[0]
    if r.random() < mobile_p:
        if r.random() < 0.55:
            ios = safari.replace(".", "_")
            return (f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
                    f"Gecko) Version/{safari} Mobile/15E148 Safari/604.1")
        return (f"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 "
                f"Mobile Safari/537.36")
    k = r.choices(range(7), weights=[38, 17, 9, 8, 5, 10, 3])[0]
    if k == 0:
        return (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{chrome}.0.0.0 Safari/537.36")
    if k == 1:
        return (f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{chrome}.0.0.0 Safari/537.36")
    if k == 2:
        return (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{chrome}.0.0.0 Safari/537.36 Edg/{chrome}.0.{r.randint(2000, 3600)}.{r.randint(10, 140)}")
    if k == 3:
        return f"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{firefox}.0) Gecko/20100101 Firefox/{firefox}.0"
    if k == 4:
        return f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{firefox}.0) Gecko/20100101 Firefox/{firefox}.0"
    if k == 5:
        return (f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                f"Version/{safari} Safari/605.1.15")
    return (f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 "
            f"Safari/537.36")


def sdk_ua(r: random.Random) -> str:
    return r.choices([
        f"nova-python/2.{r.randint(3, 9)}.{r.randint(0, 4)}",
        f"AsyncNova/Python 2.{r.randint(3, 9)}.{r.randint(0, 4)}",
        f"nova-node/4.{r.randint(10, 30)}.{r.randint(0, 3)}",
        f"python-httpx/0.{r.choice([27, 28])}.{r.randint(0, 2)}",
        f"python-requests/2.{r.choice([31, 32])}.{r.randint(0, 4)}",
        f"aiohttp/3.{r.randint(9, 12)}.{r.randint(0, 9)}",
        f"axios/1.{r.randint(6, 9)}.{r.randint(0, 9)}",
        f"curl/8.{r.randint(4, 14)}.{r.randint(0, 1)}",
        "Go-http-client/2.0",
        f"langchain-nova/0.{r.randint(2, 4)}.{r.randint(0, 20)}",
        f"okhttp/4.{r.randint(9, 12)}.0",
    ], weights=[24, 8, 12, 10, 10, 5, 8, 4, 5, 10, 4])[0]


def server_ua(r: random.Random) -> str:
    return r.choice([
        f"python-requests/2.{r.choice([28, 31, 32])}.{r.randint(0, 4)}",
        f"Apache-HttpClient/5.{r.randint(1, 4)}.{r.randint(0, 3)} (Java/{r.choice(['17.0.9', '21.0.4', '11.0.22'])})",
        "Go-http-client/1.1", "Go-http-client/2.0",
        f"Java-http-client/{r.choice(['17.0.9', '21.0.4'])}",
        f"nova-java/1.{r.randint(2, 8)}.{r.randint(0, 3)}",
        f"nova-python/2.{r.randint(1, 9)}.{r.randint(0, 4)}",
        "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
        ".NET/8.0 HttpClient",
    ])


def harness_ua(r: random.Random) -> str:
    return r.choice([
        f"lm-eval/0.4.{r.randint(3, 9)} python-httpx/0.27.{r.randint(0, 2)}",
        f"inspect_ai/0.3.{r.randint(40, 99)}", f"nova-python/2.{r.randint(3, 9)}.{r.randint(0, 4)}",
        f"AsyncNova/Python 2.{r.randint(3, 9)}.{r.randint(0, 4)}", f"evalkit/{r.randint(1, 3)}.{r.randint(0, 9)}",
        f"python-httpx/0.28.{r.randint(0, 1)}",
    ])


def agent_ua(r: random.Random) -> str:
    return r.choice([f"nova-code/1.{r.randint(2, 9)}.{r.randint(0, 40)} (cli)", f"aider/0.{r.randint(80, 90)}.0",
                     f"Cline/3.{r.randint(10, 30)}.{r.randint(0, 9)}", f"opencode/0.{r.randint(3, 9)}.{r.randint(0, 9)}",
                     f"Cursor/1.{r.randint(2, 7)}.{r.randint(0, 9)}"])


# --------------------------------------------------------------------------------------------------------------
# time helpers
# --------------------------------------------------------------------------------------------------------------

# relative activity of a person by local hour (peaks late morning, afternoon and evening)
BASE_HOURLY = np.array([0.30, 0.18, 0.11, 0.07, 0.05, 0.06, 0.12, 0.30, 0.60, 0.85, 0.97, 1.00, 0.85, 0.90, 1.00,
                        0.98, 0.93, 0.85, 0.78, 0.82, 0.88, 0.85, 0.70, 0.48])
WORK_HOURLY = np.array([0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.20, 0.70, 1.00, 1.00, 0.95, 0.60, 0.85, 1.00,
                        1.00, 0.90, 0.65, 0.30, 0.15, 0.12, 0.10, 0.06, 0.03])
SCHOOL_HOURLY = np.array([0.02, 0.01, 0.01, 0.01, 0.01, 0.02, 0.05, 0.35, 0.85, 1.00, 1.00, 0.90, 0.75, 0.95, 1.00,
                          0.80, 0.75, 0.80, 0.70, 0.75, 0.80, 0.65, 0.35, 0.10])


def shifted_profile(base: np.ndarray, shift: float, flat: float = 0.0) -> np.ndarray:
    x = (np.arange(24) - shift) % 24
    lo = np.floor(x).astype(int)
    frac = x - lo
    p = base[lo] * (1 - frac) + base[(lo + 1) % 24] * frac
    p = (1 - flat) * p + flat * p.mean()
    return p / p.sum()


def _weekday(t: np.ndarray | float) -> np.ndarray:
    """Monday = 0 for epoch seconds (1970-01-01 was a Thursday)."""
    return ((np.floor_divide(t, DAY).astype(np.int64) + 3) % 7)


def sample_times(rng: np.random.Generator, n: int, t0: float, t1: float, tz_h: float, prof: np.ndarray,
                 weekend: float = 1.0, day_w: dict | np.ndarray | None = None, extra_w=None) -> np.ndarray:
    """``n`` sorted epoch seconds in ``[t0, t1)`` following a local hourly profile and weekend factor.

    ``day_w`` multiplies the weight of each UTC day index (``int(t // DAY)``) when given as a dict;
    ``extra_w(hour_starts) -> weights`` multiplies arbitrary per-hour weights."""
    if n <= 0 or t1 <= t0:
        return np.empty(0)
    h0 = math.floor(t0 / HOUR)
    h1 = math.ceil(t1 / HOUR)
    hs = np.arange(h0, h1, dtype=np.float64) * HOUR
    local = hs + tz_h * HOUR
    lh = (np.floor(local / HOUR).astype(np.int64)) % 24
    w = prof[lh].copy()
    if weekend != 1.0:
        w = np.where(_weekday(local) >= 5, w * weekend, w)
    if day_w is not None:
        di = np.floor_divide(hs, DAY).astype(np.int64)
        w = w * np.array([day_w.get(int(d), 1.0) for d in di]) if isinstance(day_w, dict) else w * day_w
    if extra_w is not None:
        w = w * extra_w(hs)
    # partial first/last hour
    w[0] *= max(0.0, min(1.0, (hs[0] + HOUR - t0) / HOUR))
    w[-1] *= max(0.0, min(1.0, (t1 - hs[-1]) / HOUR))
    if w.sum() <= 0:
        w = np.ones_like(w)
    idx = rng.choice(len(hs), size=n, p=w / w.sum())
    t = hs[idx] + rng.random(n) * HOUR
    return np.sort(np.clip(t, t0, t1 - 1.0))


def burst_day_weights(rng: np.random.Generator, t0: float, t1: float, shape: float) -> dict[int, float]:
    """Day-to-day burstiness of one account: gamma(shape) weights per UTC day (small shape = bursty)."""
    d0, d1 = int(t0 // DAY), int(t1 // DAY) + 1
    return {d: float(x) for d, x in zip(range(d0, d1), rng.gamma(shape, 1.0 / shape, d1 - d0))}


# --------------------------------------------------------------------------------------------------------------
# text pools from ShareGPT
# --------------------------------------------------------------------------------------------------------------

def ntok(text: str) -> int:
    """Approximate token count (~4 characters per token, non-ASCII characters cost more)."""
    n = len(text)
    if text.isascii():
        return max(1, (n + 3) // 4)
    na = sum(1 for ch in text if ord(ch) > 127)
    return max(1, int((n - na) / 4 + na * 0.9) + 1)


_CODE_MARKERS = ("```", "def ", "function ", "import ", "class ", "error", "Error", "SELECT ", "const ", "python",
                 "javascript", "code", "#include", "public static", "=>", "npm ", "pip ")


@dataclass
class Conv:
    turns: tuple[str, ...]      # human messages
    answer: str                 # the real answer to the first message (used as a document to paste/process)
    ptok: tuple[int, ...]       # tokens of each human message
    atok: tuple[int, ...]       # tokens of the real answer to each human message
    code: bool


_SHAREGPT_CACHE: list[Conv] | None = None


def load_conversations() -> list[Conv]:
    """ShareGPT conversations as (human message, answer length) sequences, cached per process."""
    global _SHAREGPT_CACHE
    if _SHAREGPT_CACHE is None:
        from distillguard.data import iter_sharegpt

        out = []
        for conv in iter_sharegpt():
            turns, pt, at = [], [], []
            t = list(conv.turns)
            i = 0
            while i < len(t) and t[i][0] != "human":
                i += 1
            ok = True
            while i < len(t):
                role, text = t[i]
                if role == "human":
                    text = text.strip()
                    ans = t[i + 1][1] if i + 1 < len(t) and t[i + 1][0] == "gpt" else ""
                    if not text:
                        i += 1
                        continue
                    if len(text) > 12000:
                        ok = False
                        break
                    turns.append(text)
                    pt.append(ntok(text))
                    at.append(ntok(ans) if ans.strip() else 0)
                i += 1
            if ok and turns and at[0] > 0:
                code = any(m in turns[0] for m in _CODE_MARKERS)
                first_answer = next((tx for rl, tx in t if rl == "gpt"), "").strip()
                out.append(Conv(tuple(turns), first_answer, tuple(pt), tuple(at), code))
        _SHAREGPT_CACHE = out
    return _SHAREGPT_CACHE


_TYPO_KEYS = "etaoinshrdlucmfwypvbgk"


def mutate(text: str, r: random.Random) -> str:
    """A light, human-looking edit of a reused prompt (so re-used text is not byte-identical)."""
    ops = r.sample(range(6), r.randint(1, 2))
    for op in ops:
        if op == 0 and text:
            text = (text[0].lower() if text[0].isupper() else text[0].upper()) + text[1:]
        elif op == 1:
            text = r.choice(HUMAN_GREETINGS[5:]) + (text[0].lower() + text[1:] if text[:1].isupper() else text)
        elif op == 2:
            text = text.rstrip(".?! ") + r.choice(HUMAN_THANKS[4:])
        elif op == 3 and len(text) > 20:
            i = r.randrange(1, len(text) - 2)
            if text[i].isalpha() and text[i + 1].isalpha():
                text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
            else:
                text = text[:i] + r.choice(_TYPO_KEYS) + text[i:]
        elif op == 4:
            digits = [i for i, ch in enumerate(text[:2000]) if ch.isdigit()]
            if digits:
                i = r.choice(digits)
                text = text[:i] + str(r.randrange(10)) + text[i + 1:]
            else:
                text = text.replace("  ", " ") + ("" if text.endswith((".", "?", "!")) else r.choice(["", ".", "?"]))
        else:
            text = text.strip() + r.choice(["", "\n", " ", "\n\n"]) if r.random() < 0.5 else text.lower()
    return text


class ChatPool:
    """Cycles through a shuffled list of conversations; every pass after the first edits the messages."""

    def __init__(self, convs: list[Conv], order: np.ndarray, r: random.Random):
        self.convs, self.order, self.r = convs, [int(i) for i in order], r
        self.ptr = 0
        self.passes = 0

    def take(self) -> tuple[list[str], list[int], list[int]]:
        if self.ptr >= len(self.order):
            self.ptr = 0
            self.passes += 1
            self.r.shuffle(self.order)
        c = self.convs[self.order[self.ptr]]
        reuse = self.passes > 0
        self.ptr += 1
        turns = list(c.turns)
        ptok = list(c.ptok)
        if reuse:
            for i, t in enumerate(turns):
                if len(t) > 20 or (i == 0 and len(t) > 8):
                    turns[i] = mutate(t, self.r)
                    ptok[i] = ntok(turns[i])
        return turns, ptok, list(c.atok)


# --------------------------------------------------------------------------------------------------------------
# output sink, accounts and context
# --------------------------------------------------------------------------------------------------------------

class Sink:
    """Column buffers of one output file."""

    def __init__(self):
        self.acct: list[np.ndarray] = []
        self.ts: list[np.ndarray] = []
        self.ptok: list[np.ndarray] = []
        self.ctok: list[np.ndarray] = []
        self.maxtok: list[np.ndarray] = []
        self.prompt: list[str] = []
        self.ip: list[str] = []
        self.ua: list[str] = []
        self.model: list[str] = []

    def add(self, acct: int, ts, prompts, ptok, ctok, ip, ua, model, maxtok=None):
        n = len(prompts)
        if n == 0:
            return
        ts = np.asarray(ts, dtype=np.float64)
        assert len(ts) == n
        self.acct.append(np.full(n, acct, dtype=np.int32))
        self.ts.append(ts)
        self.ptok.append(np.asarray(ptok, dtype=np.int64).reshape(-1) * np.ones(n, dtype=np.int64))
        self.ctok.append(np.maximum(0, np.asarray(ctok, dtype=np.int64)).reshape(-1) * np.ones(n, dtype=np.int64))
        if maxtok is None:
            self.maxtok.append(np.full(n, -1, dtype=np.int64))
        else:
            self.maxtok.append(np.asarray(maxtok, dtype=np.int64).reshape(-1) * np.ones(n, dtype=np.int64))
        self.prompt.extend(prompts)
        for col, v in ((self.ip, ip), (self.ua, ua), (self.model, model)):
            if isinstance(v, str):
                col.extend([v] * n)
            else:
                assert len(v) == n
                col.extend(v)

    def __len__(self):
        return len(self.prompt)


@dataclass
class Account:
    idx: int
    account_id: str
    org_id: str
    family: str
    label: int
    campaign_id: str = ""
    rpm: int = 500           # requests-per-minute limit of its tier
    retry_p: float = 0.5     # chance its client retries a 429
    in_scored: bool = True
    in_reference: bool = False
    created: float = 0.0


@dataclass
class Ctx:
    seed: int
    small: bool
    rng: np.random.Generator
    r: random.Random
    t0: float                # scored window start
    t1: float                # scored window end
    ref0: float              # reference window start (= t0 - 7 days)
    release: float           # release time of MODEL_NEW
    convs: list[Conv]
    private: ChatPool        # benign text
    code_private: ChatPool   # benign code conversations
    public_first: list[int]  # public split: conversation indices (verbatim replay / campaign seeds)
    articles: list[str]      # assistant answers used as documents to paste / process
    benchmarks: dict
    accounts: list[Account] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    used_ids: set = field(default_factory=set)
    ipools: dict = field(default_factory=dict)  # shared address pools: mobile CGNAT, VPN exits, offices

    def new_id(self, prefix: str, nbytes: int = 8) -> str:
        while True:
            s = prefix + self.rng.bytes(nbytes).hex()
            if s not in self.used_ids:
                self.used_ids.add(s)
                return s

    def account(self, family: str, label: int, org: str | None = None, **kw) -> Account:
        a = Account(idx=len(self.accounts), account_id=self.new_id("acct_"), org_id=org or self.new_org(),
                    family=family, label=label, **kw)
        self.accounts.append(a)
        return a

    def new_org(self) -> str:
        return self.new_id("org-", 10)

    def sub(self) -> tuple[np.random.Generator, random.Random]:
        """Independent child generators (keeps families' randomness separate)."""
        s = int(self.rng.integers(2**62))
        return np.random.default_rng(s), random.Random(s)


# --------------------------------------------------------------------------------------------------------------
# people: the building block of humans, power users, reseller end users and cohort members
# --------------------------------------------------------------------------------------------------------------

class Buf:
    """Per-account row buffer."""

    __slots__ = ("ts", "prompt", "ptok", "ctok", "ip", "ua", "model", "maxtok")

    def __init__(self):
        self.ts, self.prompt, self.ptok, self.ctok = [], [], [], []
        self.ip, self.ua, self.model, self.maxtok = [], [], [], []

    def add(self, t, prompt, ptok, ctok, ip, ua, model, maxtok):
        self.ts.append(t)
        self.prompt.append(prompt)
        self.ptok.append(ptok)
        self.ctok.append(ctok)
        self.ip.append(ip)
        self.ua.append(ua)
        self.model.append(model)
        self.maxtok.append(maxtok)

    def __len__(self):
        return len(self.ts)

    def flush(self, sink: Sink, acct: int):
        sink.add(acct, self.ts, self.prompt, self.ptok, self.ctok, self.ip, self.ua, self.model, self.maxtok)


@dataclass
class Person:
    region: str
    tz: float
    prof: np.ndarray
    weekend: float
    rate: float                 # chat sessions per day (mean over days)
    shape: float                # day-to-day burstiness (gamma shape; small = bursty)
    devices: list               # [(ua, [ips], [ip weights])]
    dev_p: list
    model: str
    maxtok: int                 # -1: the client does not set max_tokens
    sys_tok: int                # hidden system prompt of the client
    switch_at: float            # when this person starts using MODEL_NEW (inf: never)
    mix: tuple = (0.67, 0.25, 0.08)  # chat / paste a text / quick one-shot
    code_p: float = 0.1


def _tz_for(r: random.Random, region: str) -> float:
    return float(r.choice(REGIONS[region][1]))


def make_person(ctx: Ctx, r: random.Random, region: str | None = None, *, prof_base=BASE_HOURLY,
                rate: float | None = None, weekend: float | None = None, office_ips: list | None = None,
                managed_ua: str | None = None, sdk_p: float = 0.0, adopt_p: float = 0.55) -> Person:
    region = region or r.choices(REGION_NAMES, weights=list(REGION_P))[0]
    tz = _tz_for(r, region)
    prof = shifted_profile(prof_base, r.gauss(0, 1.3), flat=r.uniform(0.0, 0.25))
    if rate is None:
        rate = min(6.0, max(0.03, r.lognormvariate(math.log(0.6), 1.05)))
    if weekend is None:
        weekend = r.uniform(0.45, 1.15)
    home = [residential_ip(r, region)]
    if r.random() < 0.15:
        home.append(residential_ip(r, region))
    devices = []
    nd = r.choices([1, 2, 3], weights=[55, 35, 10])[0]
    for d in range(nd):
        phone = d > 0 and r.random() < 0.75
        if phone:
            ua = (browser_ua(r, mobile_p=1.0) if r.random() < 0.6 else
                  f"NovaChat/1.2026.{r.randint(10, 99):03d} ({r.choice(['iOS 26.2; iPhone16,2', 'iOS 18.6; iPhone14,5', 'Android 15; Pixel 8', 'Android 14; SM-S918B', 'iOS 26.1; iPhone17,1'])})")
            cg = r.sample(ctx.ipools["cgnat"][region], 4)
            devices.append((ua, cg + home[:1], [0.2, 0.2, 0.15, 0.15, 0.3]))
            continue
        if managed_ua is not None:
            ua = managed_ua
        elif r.random() < sdk_p:
            ua = sdk_ua(r)
        else:
            ua = browser_ua(r, mobile_p=0.0)
        u = r.random()
        if office_ips is not None:
            devices.append((ua, list(office_ips) + home, [0.75 / len(office_ips)] * len(office_ips)
                            + [0.25 / len(home)] * len(home)))
        elif u < 0.08:  # commercial VPN / privacy relay: exits rotate per session, shared with strangers
            devices.append((ua, r.sample(ctx.ipools["vpn"], 25), [1.0] * 25))
        elif u < 0.25:  # office egress shared with colleagues, plus home
            off = r.choice(ctx.ipools["office"][region])
            devices.append((ua, [off] + home, [0.7] + [0.3 / len(home)] * len(home)))
        else:
            devices.append((ua, home, [0.85, 0.15][: len(home)] if len(home) > 1 else [1.0]))
    w = [1.0] + [r.uniform(0.15, 0.7) for _ in devices[1:]]
    model = MODEL_FLAGSHIP if r.random() < 0.8 else MODEL_SMALL
    maxtok = -1 if r.random() < 0.72 else r.choice([1024, 2048, 4096, 4096, 8192])
    switch = ctx.release + r.expovariate(1 / (1.2 * DAY)) if r.random() < adopt_p else math.inf
    return Person(region, tz, prof, weekend, rate, r.uniform(0.35, 2.0), devices, [x / sum(w) for x in w], model,
                  maxtok, r.choice([0, 0, 0, 40, 120, 350]), switch)


def _release_boost(ctx: Ctx, strength: float):
    def f(hs):
        return 1.0 + strength * ((hs >= ctx.release) & (hs < ctx.release + 2 * DAY))
    return f


def chat_turns(buf: Buf, r: random.Random, t: float, turns, ptoks, atoks, ip, ua, p: Person, answer_sigma=0.25):
    """Emit one conversation: each turn after the previous answer was read and the next message typed."""
    hist = p.sys_tok
    for i, (text, pt, at) in enumerate(zip(turns, ptoks, atoks)):
        c = int((at if at > 0 else 250) * r.lognormvariate(0.0, answer_sigma)) + 1
        model = MODEL_NEW if t >= p.switch_at else p.model
        buf.add(t, text, min(200_000, pt + hist), c, ip, ua, model, p.maxtok)
        hist += pt + c
        if i + 1 < len(turns):
            nxt = len(turns[i + 1])
            gen = 0.6 + c / r.uniform(45, 95)
            read = c / r.uniform(15, 45) * r.uniform(0.1, 1.0)
            think = r.lognormvariate(math.log(12), 1.0)
            typing = nxt / r.uniform(2.5, 6.0) if nxt < 300 else r.uniform(3, 30)
            t += gen + read + think + typing
            if r.random() < 0.07:
                t += r.expovariate(1 / 1800)
    return t


def person_activity(ctx: Ctx, p: Person, w0: float, w1: float, buf: Buf, rng: np.random.Generator,
                    r: random.Random, *, pool: ChatPool | None = None, n_sessions: int | None = None,
                    day_w: dict | None = None, force_one: bool = False, boost: float = 0.4):
    """Chat sessions of one person over ``[w0, w1)``."""
    if w1 <= w0:
        return
    if n_sessions is None:
        n_sessions = int(rng.poisson(p.rate * (w1 - w0) / DAY))
    if force_one:
        n_sessions = max(1, n_sessions)
    if n_sessions == 0:
        return
    if day_w is None:
        day_w = burst_day_weights(rng, w0, w1, p.shape)
    starts = sample_times(rng, n_sessions, w0, w1, p.tz, p.prof, p.weekend, day_w, _release_boost(ctx, boost))
    pool = pool or ctx.private
    for t in starts:
        d = r.choices(range(len(p.devices)), weights=p.dev_p)[0] if len(p.devices) > 1 else 0
        ua, ips, ipw = p.devices[d]
        ip = r.choices(ips, weights=ipw)[0] if len(ips) > 1 else ips[0]
        u = r.random()
        if u < p.mix[0]:
            src = ctx.code_private if r.random() < p.code_p else pool
            turns, pt, at = src.take()
            if len(turns) > 1 and r.random() < 0.4:
                m = r.randint(1, len(turns))
                turns, pt, at = turns[:m], pt[:m], at[:m]
            chat_turns(buf, r, float(t), turns, pt, at, ip, ua, p)
        elif u < p.mix[0] + p.mix[1]:
            instr, factor = r.choice(PASTE_INSTRUCTIONS)
            doc = r.choice(ctx.articles)
            doc = doc[: r.randint(300, 3000)]
            text = f"{instr}\n\n{doc}" if r.random() < 0.7 else f"{doc}\n\n{instr}"
            dt = ntok(doc)
            c = max(5, int(dt * factor * r.lognormvariate(0, 0.3)))
            chat_turns(buf, r, float(t), [text], [ntok(text)], [c], ip, ua, p, answer_sigma=0.05)
        else:
            turns, pt, at = pool.take()
            chat_turns(buf, r, float(t), turns[:1], pt[:1], at[:1], ip, ua, p)


def gen_human(ctx: Ctx, acct: Account, p: Person, sinks: dict, rng, r, new_tau: float | None = None):
    """An ordinary person (``new_tau``: a new sign-up whose activity decays after sign-up)."""
    for which, (w0, w1) in (("scored", (ctx.t0, ctx.t1)), ("reference", (ctx.ref0, ctx.t0))):
        if which == "scored" and not acct.in_scored or which == "reference" and not acct.in_reference:
            continue
        w0 = max(w0, acct.created)
        if w1 <= w0:
            continue
        buf = Buf()
        day_w = burst_day_weights(rng, w0, w1, p.shape)
        n = None
        if new_tau is not None:
            dc = int(w0 // DAY)
            for d in day_w:
                day_w[d] *= (3.0 if d == dc else 1.0) * math.exp(-max(0, d - dc) / new_tau) + 0.05
            n = int(rng.poisson(p.rate * min(w1 - w0, 3 * new_tau * DAY) / DAY)) + 1
            # the first session starts soon after sign-up
            ua, ips, _ = p.devices[0]
            turns, pt, at = ctx.private.take()
            chat_turns(buf, r, w0 + r.uniform(60, 1800), turns, pt, at, ips[0], ua, p)
            n -= 1
        person_activity(ctx, p, w0, w1, buf, rng, r, n_sessions=n, day_w=day_w, force_one=(new_tau is None))
        _keep_window(buf, w0, w1)
        buf.flush(sinks[which], acct.idx)


def _keep_window(buf: Buf, w0: float, w1: float):
    """Drop rows that a session pushed past the window end."""
    if not buf.ts or max(buf.ts) < w1:
        return
    keep = [i for i, t in enumerate(buf.ts) if w0 <= t < w1]
    if not keep:  # keep at least the first request, moved into the window
        keep = [0]
        buf.ts[0] = min(max(buf.ts[0], w0), w1 - 1)
    for name in Buf.__slots__:
        col = getattr(buf, name)
        setattr(buf, name, [col[i] for i in keep])


# --------------------------------------------------------------------------------------------------------------
# benign families beyond ordinary people
# --------------------------------------------------------------------------------------------------------------

def _app_requests(ctx: Ctx, buf: Buf, r: random.Random, rng, w0, w1, app: dict):
    """A developer's small app calling the API with its own template(s)."""
    n = int(rng.poisson(app["per_day"] * (w1 - w0) / DAY))
    ts = sample_times(rng, n, w0, w1, app["tz"], app["prof"], app["weekend"])
    for t in ts:
        tmpl, med, mx = DEV_APP_TEMPLATES[r.choice(app["templates"])]
        # the app's own end users supply the data: varied messages, products, identifiers
        msg = " ".join(r.sample(DEV_MESSAGES, r.randint(1, 2)))
        if r.random() < 0.6:
            msg += r.choice([f" Order #{r.randint(10000, 999999)}.", f" - {r.choice(NAMES)}",
                             f" (ticket {r.randint(1000, 99999)})", f" I'm on the {r.choice(['free', 'pro', 'team'])}"
                             f" plan.", f" Sent from my {r.choice(['iPhone', 'Android', 'laptop'])}"])
        text = app["prefix"] + tmpl.format(
            x=f"{r.choice(_PRODUCT_ADJ)} {r.choice(DEV_PRODUCTS + [t for _, t in ALL_TOPICS[:60]])}", m=msg,
            lang=r.choice(["French", "German", "Spanish", "Japanese", "Italian"]),
            q=_sql_ask(r),
            err=r.choice(DEV_ERRORS) + (f" (line {r.randint(3, 900)})" if r.random() < 0.5 else ""))
        c = max(1, int(med * r.lognormvariate(0, 0.35)))
        model = MODEL_NEW if t >= app["switch_at"] else app["model"]
        buf.add(float(t), text, ntok(text) + app["sys_tok"], c, app["ip"], app["ua"], model, app["maxtok"])


def _agent_sessions(ctx: Ctx, buf: Buf, r: random.Random, rng, w0, w1, p: Person, ag: dict):
    """Coding-agent sessions: many quick requests that carry a large, growing context."""
    n = int(rng.poisson(ag["per_day"] * (w1 - w0) / DAY))
    starts = sample_times(rng, n, w0, w1, p.tz, WORK_HOURLY * 0.7 + BASE_HOURLY * 0.3, p.weekend)
    for t in starts:
        t = float(t)
        k = int(min(250, max(3, r.lognormvariate(math.log(ag["steps"]), 0.8))))
        ctx_tok = r.randint(6000, 25000)
        ip = p.devices[0][1][0]
        model = MODEL_NEW if t >= ag["switch_at"] else ag["model"]
        for step in range(k):
            if step == 0:
                text = r.choice(AGENT_TASKS)
            else:
                text = r.choice(AGENT_TOOL_RESULTS).format(u=r.choice(AGENT_USER).format(x=r.choice(
                    ["the parser", "utils.py", "the users endpoint", "the retry logic", "the form", "the config",
                     "the migration", "test_api.py", "the cache", "the websocket handler", "the README"])),
                    a=r.randint(1, 400), b=r.randint(0, 30),
                                                           m=r.choice(["api", "core", "billing", "auth", "ui", "jobs"]),
                                                           f=r.choice(["users", "orders", "paginate", "retry",
                                                                       "handler", "parse", "render", "sync"]))
            pt = ntok(text)
            c = int(min(6000, max(8, r.lognormvariate(math.log(220), 0.9))))
            buf.add(t, text, ctx_tok + pt, c, ip, ag["ua"], model, ag["maxtok"])
            ctx_tok += pt + c + (r.randint(300, 4000) if r.random() < 0.4 else 0)
            if ctx_tok > 160_000:
                ctx_tok = r.randint(30_000, 50_000)  # the agent compacts its context
            t += 1.0 + c / r.uniform(60, 110) + r.uniform(0.3, 12) + (r.uniform(20, 400) if r.random() < 0.08 else 0)


def make_power_user(ctx: Ctx, r: random.Random) -> tuple[Person, dict | None, dict | None]:
    prof_base = 0.5 * BASE_HOURLY + 0.5 * WORK_HOURLY
    p = make_person(ctx, r, prof_base=prof_base, rate=min(8.0, r.lognormvariate(math.log(0.9), 0.7)),
                    weekend=r.uniform(0.25, 0.9), sdk_p=0.35, adopt_p=0.8)
    p.code_p = r.uniform(0.35, 0.9)
    if r.random() < 0.5:  # early adopter: switches within hours of the release
        p.switch_at = ctx.release + r.uniform(0.05, 0.5) * DAY
    if p.devices[0][0].startswith(("nova", "Async", "python", "aiohttp", "axios", "curl", "Go", "lang", "okhttp")):
        p.maxtok = r.choice([1024, 2048, 4096, 4096, 8192])
    app = ag = None
    if r.random() < 0.3:
        app = {"templates": r.sample(range(len(DEV_APP_TEMPLATES)), r.randint(1, 3)),
               "per_day": r.lognormvariate(math.log(25), 0.9), "tz": p.tz,
               "prof": shifted_profile(BASE_HOURLY, r.gauss(0, 1), flat=0.4), "weekend": r.uniform(0.6, 1.0),
               "ua": sdk_ua(r), "ip": datacenter_ip(r), "maxtok": r.choice([256, 512, 512, 1024, -1]),
               "model": r.choice([MODEL_SMALL, MODEL_SMALL, MODEL_FLAGSHIP]), "sys_tok": r.choice([0, 80, 300]),
               "prefix": r.choice(["", "", "", f"[{r.choice(_APP_NAMES)}] ", f"You are the assistant inside "
                                   f"{r.choice(_APP_NAMES)}. "]),
               "switch_at": math.inf if r.random() < 0.7 else ctx.release + r.uniform(1, 5) * DAY}
    if r.random() < 0.45:
        ag = {"per_day": r.uniform(0.1, 0.6), "steps": r.uniform(10, 35), "ua": agent_ua(r),
              "maxtok": r.choice([8192, 16384, 32000]), "model": MODEL_FLAGSHIP,
              "switch_at": ctx.release + r.uniform(0.02, 1.5) * DAY}
        p.rate *= 0.6
    return p, app, ag


def gen_power_user(ctx: Ctx, acct: Account, persona, sinks, rng, r):
    p, app, ag = persona
    for which, (w0, w1) in (("scored", (ctx.t0, ctx.t1)), ("reference", (ctx.ref0, ctx.t0))):
        if which == "scored" and not acct.in_scored or which == "reference" and not acct.in_reference:
            continue
        w0 = max(w0, acct.created)
        if w1 <= w0:
            continue
        buf = Buf()
        person_activity(ctx, p, w0, w1, buf, rng, r, force_one=True, boost=1.0)
        if p.switch_at < ctx.release + DAY and w0 <= ctx.release < w1:  # tries the new model right away
            person_activity(ctx, p, p.switch_at, min(w1, p.switch_at + DAY), buf, rng, r,
                            n_sessions=r.randint(2, 6))
        if app is not None:
            _app_requests(ctx, buf, r, rng, w0, w1, app)
        if ag is not None:
            _agent_sessions(ctx, buf, r, rng, w0, w1, p, ag)
        _keep_window(buf, w0, w1)
        buf.flush(sinks[which], acct.idx)


def make_eval_harness(ctx: Ctx, r: random.Random) -> dict:
    region = r.choice(["na", "na", "eu", "eu", "ea", "in"])
    benches = r.sample(["mcq", "gsm", "code", "judge"], r.randint(1, 4))
    return {
        "tz": _tz_for(r, region), "benches": benches,
        "maxtok": {b: r.choice(BENCH_MAXTOK[b]) for b in benches},
        "runs_per_week": r.uniform(0.6, 2.2), "concurrency": r.choice([4, 8, 16, 16, 32, 64]),
        "subset_p": r.uniform(0.2, 0.7), "code_samples": r.choice([1, 1, 5, 10]),
        "ci_nightly": r.random() < 0.35, "ci_hour": r.uniform(0, 24), "ci_n": r.choice([50, 100, 200]),
        "release_rerun": r.random() < 0.85, "release_lag_h": r.lognormvariate(math.log(3), 0.7),
        "ua": harness_ua(r), "ips": [datacenter_ip(r) for _ in range(r.randint(1, 3))],
        "models": [MODEL_FLAGSHIP, MODEL_SMALL] if r.random() < 0.6 else [MODEL_FLAGSHIP],
    }


def _eval_run(ctx: Ctx, buf: Buf, r: random.Random, h: dict, t: float, bench: str, model: str, full: bool):
    items = ctx.benchmarks[bench]
    if not full:
        idx = sorted(r.sample(range(len(items)), min(len(items), r.choice([100, 200, 250, 500]))))
    else:
        idx = list(range(len(items)))
    reps = h["code_samples"] if bench == "code" else 1
    c = h["concurrency"]
    ip = r.choice(h["ips"])
    mt = h["maxtok"][bench]
    for i in idx:
        prompt, comp = items[i]
        pt = ntok(prompt)
        for _ in range(reps):
            cc = max(1, int(comp * r.lognormvariate(0, 0.2))) if comp > 1 else 1
            buf.add(t, prompt, pt, cc, ip, h["ua"], model, mt)
            t += r.expovariate(1.0) * (0.35 + pt / 30000 + cc / 75) / c


def gen_eval_harness(ctx: Ctx, acct: Account, h: dict, sinks, rng, r):
    for which, (w0, w1) in (("scored", (ctx.t0, ctx.t1)), ("reference", (ctx.ref0, ctx.t0))):
        if which == "scored" and not acct.in_scored or which == "reference" and not acct.in_reference:
            continue
        w0 = max(w0, acct.created)
        buf = Buf()
        n_runs = max(1 if which == "scored" else 0, int(rng.poisson(h["runs_per_week"] * (w1 - w0) / (7 * DAY))))
        starts = sample_times(rng, n_runs, w0, w1, h["tz"], WORK_HOURLY, 0.2)
        for t in starts:
            bench = r.choice(h["benches"])
            _eval_run(ctx, buf, r, h, float(t), bench, r.choice(h["models"]) if w1 <= ctx.release or t < ctx.release
                      else r.choice(h["models"] + [MODEL_NEW] * 2), full=r.random() > h["subset_p"])
        if h["ci_nightly"]:
            d = math.floor(w0 / DAY)
            while d * DAY < w1:
                t = d * DAY + h["ci_hour"] * HOUR + r.uniform(0, 300)
                if w0 <= t < w1:
                    bench = h["benches"][0]
                    items = ctx.benchmarks[bench][: h["ci_n"]]
                    model = MODEL_NEW if t > ctx.release + DAY and r.random() < 0.5 else h["models"][0]
                    for prompt, comp in items:
                        cc = max(1, int(comp * r.lognormvariate(0, 0.2))) if comp > 1 else 1
                        buf.add(t, prompt, ntok(prompt), cc, h["ips"][0], h["ua"], model, h["maxtok"][bench])
                        t += r.expovariate(1.0) * (0.4 + cc / 75) / h["concurrency"]
                d += 1
        if h["release_rerun"] and w0 <= ctx.release < w1:
            t = ctx.release + h["release_lag_h"] * HOUR
            for bench in h["benches"]:
                if t >= w1:
                    break
                before = len(buf)
                _eval_run(ctx, buf, r, h, t, bench, MODEL_NEW, full=True)
                t = buf.ts[-1] + r.uniform(60, 3600) if len(buf) > before else t
        _keep_window(buf, w0, w1)
        buf.flush(sinks[which], acct.idx)


def make_batch_job(ctx: Ctx, r: random.Random) -> dict:
    region = r.choice(["na", "na", "eu", "eu", "ea", "in", "latam", "oc"])
    jobs = r.sample(list(BATCH_JOBS), r.randint(1, 3))
    return {
        "tz": _tz_for(r, region), "hour": r.choice([0, 1, 1, 2, 2, 3, 4, 22, 23]) + r.choice([0, 0, 0.5]),
        "jobs": {j: (r.randrange(len(BATCH_JOBS[j][0])), r.random()) for j in jobs},
        "per_night": r.lognormvariate(math.log(300), 0.7), "weekends": r.random() < 0.45,
        "concurrency": r.choice([1, 2, 4, 8, 16]), "ua": server_ua(r), "ips": [datacenter_ip(r) for _ in
                                                                              range(r.randint(1, 2))],
        "model": r.choice([MODEL_SMALL, MODEL_SMALL, MODEL_FLAGSHIP]),
        "prefix": r.choice(["", "", f"You are an assistant for {r.choice(_VENDORS)}. "]),
        "lang": r.choice(["French", "German", "Spanish", "Japanese", "Portuguese"]),
        "adhoc_p": r.uniform(0.0, 0.25),
    }


def gen_batch(ctx: Ctx, acct: Account, b: dict, sinks, rng, r):
    for which, (w0, w1) in (("scored", (ctx.t0, ctx.t1)), ("reference", (ctx.ref0, ctx.t0))):
        if which == "scored" and not acct.in_scored or which == "reference" and not acct.in_reference:
            continue
        w0 = max(w0, acct.created)
        buf = Buf()
        d = math.floor(w0 / DAY) - 1
        while d * DAY < w1:
            start = d * DAY + (b["hour"] - b["tz"]) * HOUR + r.uniform(0, 120)
            d += 1
            wd = int(_weekday(start + b["tz"] * HOUR))
            if not (w0 <= start < w1) or (wd >= 5 and not b["weekends"]):
                continue
            n = int(b["per_night"] * r.uniform(0.6, 1.4) * (0.35 if wd >= 5 else 1.0))
            t = start
            for _ in range(max(1, n)):
                job = r.choice(list(b["jobs"]))
                tmpls, med, sig, mt = BATCH_JOBS[job]
                doc = _batch_doc(r, job, ctx.articles)
                text = b["prefix"] + tmpls[b["jobs"][job][0]].format(doc=doc, lang=b["lang"])
                pt = ntok(text)
                c = max(1, int((med if med > 0 else ntok(doc)) * r.lognormvariate(0, sig)))
                buf.add(t, text, pt, c, b["ips"][0], b["ua"], b["model"], mt)
                t += r.expovariate(1.0) * (0.5 + pt / 20000 + c / 70) / b["concurrency"]
            if r.random() < b["adhoc_p"]:  # an analyst re-runs a small slice during the day
                t = d * DAY + (r.uniform(9, 17) - b["tz"]) * HOUR
                for _ in range(r.randint(5, 60)):
                    job = r.choice(list(b["jobs"]))
                    tmpls, med, sig, mt = BATCH_JOBS[job]
                    doc = _batch_doc(r, job, ctx.articles)
                    text = b["prefix"] + tmpls[b["jobs"][job][0]].format(doc=doc, lang=b["lang"])
                    c = max(1, int((med if med > 0 else ntok(doc)) * r.lognormvariate(0, sig)))
                    buf.add(t, text, ntok(text), c, b["ips"][-1], b["ua"], b["model"], mt)
                    t += r.uniform(1, 8)
        _keep_window(buf, w0, w1)
        buf.flush(sinks[which], acct.idx)


def make_tutoring(ctx: Ctx, r: random.Random) -> dict:
    region = r.choice(["na", "na", "eu", "in", "ea", "latam", "oc"])
    return {"tz": _tz_for(r, region), "per_day": r.lognormvariate(math.log(230), 0.5),
            "wrapper": r.randrange(len(TUTOR_WRAPPERS)), "bot": r.choice(TUTOR_BOTS),
            "followup_p": r.uniform(0.25, 0.5), "ua": server_ua(r),
            "ips": [datacenter_ip(r) for _ in range(r.randint(2, 4))], "maxtok": r.choice([800, 1024, 1500, 2048]),
            "model": r.choice([MODEL_FLAGSHIP, MODEL_SMALL]), "sys_tok": r.randint(150, 600),
            "switch_at": ctx.release + r.uniform(2, 10) * DAY if r.random() < 0.4 else math.inf,
            "grades": sorted(r.sample(range(3, 13), r.randint(2, 6)))}


def gen_tutoring(ctx: Ctx, acct: Account, tp: dict, sinks, rng, r):
    for which, (w0, w1) in (("scored", (ctx.t0, ctx.t1)), ("reference", (ctx.ref0, ctx.t0))):
        if which == "scored" and not acct.in_scored or which == "reference" and not acct.in_reference:
            continue
        w0 = max(w0, acct.created)
        buf = Buf()
        n_threads = int(rng.poisson(tp["per_day"] * (w1 - w0) / DAY / (1 + tp["followup_p"] * 2)))
        starts = sample_times(rng, n_threads, w0, w1, tp["tz"], SCHOOL_HOURLY, 0.3)
        for t in starts:
            t = float(t)
            subj, q = _tutor_question(r)
            text = TUTOR_WRAPPERS[tp["wrapper"]].format(bot=tp["bot"], g=r.choice(tp["grades"]), subj=subj, q=q)
            hist = tp["sys_tok"]
            ip = r.choice(tp["ips"])
            model = MODEL_NEW if t >= tp["switch_at"] else tp["model"]
            k = 0
            while True:
                pt = ntok(text)
                c = int(max(40, r.lognormvariate(math.log(420 if k == 0 else 230), 0.4)))
                buf.add(t, text, pt + hist, c, ip, tp["ua"], model, tp["maxtok"])
                hist += pt + c
                k += 1
                if k >= 6 or r.random() > tp["followup_p"]:
                    break
                t += c / 60 + r.lognormvariate(math.log(70), 0.8)
                text = r.choice(TUTOR_FOLLOWUPS).format(a=r.randint(1, 5), c=r.randint(2, 300))
        _keep_window(buf, w0, w1)
        buf.flush(sinks[which], acct.idx)


def make_reseller(ctx: Ctx, r: random.Random) -> dict:
    n_users = int(r.lognormvariate(math.log(140), 0.5))
    focus = r.choice([None, None, "ea", "in", "latam", "mea", "eu"])
    app_ua = f"{r.choice(['ChatBox', 'AIHub', 'GPTPlus', 'SmartChat', 'AskBot'])}/{r.randint(1, 5)}.{r.randint(0, 20)}"
    users = []
    for _ in range(n_users):
        region = focus if focus and r.random() < 0.7 else None
        p = make_person(ctx, r, region, adopt_p=0.0)
        p.rate *= r.uniform(0.8, 2.0)
        if r.random() < 0.4:  # the reseller's own app instead of a browser
            p.devices = [(f"{app_ua} ({r.choice(['iOS', 'Android', 'Windows', 'macOS'])})", ips, w)
                         for _, ips, w in p.devices]
        users.append(p)
    return {"users": users, "model": r.choice([MODEL_FLAGSHIP, MODEL_SMALL]), "maxtok": r.choice([-1, 2048, 4096]),
            "switch_at": ctx.release + r.uniform(0.1, 2.0) * DAY, "n_users": n_users, "focus": focus}


def gen_reseller(ctx: Ctx, acct: Account, rs: dict, sinks, rng, r):
    for which, (w0, w1) in (("scored", (ctx.t0, ctx.t1)), ("reference", (ctx.ref0, ctx.t0))):
        if which == "scored" and not acct.in_scored or which == "reference" and not acct.in_reference:
            continue
        w0 = max(w0, acct.created)
        buf = Buf()
        for p in rs["users"]:
            p.model, p.maxtok, p.switch_at = rs["model"], rs["maxtok"], rs["switch_at"]
            person_activity(ctx, p, w0, w1, buf, rng, r)
        if not len(buf):
            p = rs["users"][0]
            person_activity(ctx, p, w0, w1, buf, rng, r, force_one=True)
        _keep_window(buf, w0, w1)
        buf.flush(sinks[which], acct.idx)


def gen_cohort(ctx: Ctx, n: int, w0: float, w1: float, which: str, sinks, rng, r) -> dict:
    """A company onboards ``n`` employees within a day or two; a workshop; then ordinary work usage."""
    region = r.choice(["na", "na", "eu", "eu", "in", "ea", "oc"])
    tz = _tz_for(r, region)
    span = (w1 - w0) / DAY
    sign_day = math.floor(w0 / DAY) + r.randint(1, max(1, int(span) - 4))
    # sign-ups happen during the local working day(s)
    org = ctx.new_org()
    office = [datacenter_ip(r) if r.random() < 0.5 else residential_ip(r, region) for _ in range(r.randint(2, 3))]
    chrome = r.choice(_CHROME_NOW[-3:])
    managed = (f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}"
               f".0.0.0 Safari/537.36")
    workshop_t = sign_day * DAY + (r.choice([10, 11, 14, 15]) - tz) * HOUR + r.choice([0, 1]) * DAY
    spread_days = r.choice([1, 2])
    info = {"region": region, "tz": tz, "sign_day": sign_day, "office_ips": len(office), "workshop_utc": workshop_t,
            "chrome": chrome}
    for _ in range(n):
        created = sign_day * DAY + (r.uniform(8.5, 17.5) - tz) * HOUR + r.randrange(spread_days) * DAY
        created = min(max(created, w0), w1 - 3 * HOUR)
        acct = ctx.account("onboarding_cohort", 0, org=org, rpm=50, retry_p=0.6, created=created,
                           in_scored=(which == "scored"), in_reference=(which == "reference"))
        p = make_person(ctx, r, region, prof_base=WORK_HOURLY, rate=r.lognormvariate(math.log(0.45), 0.9),
                        weekend=r.uniform(0.05, 0.3), office_ips=office,
                        managed_ua=managed if r.random() < 0.85 else browser_ua(r, mobile_p=0.0), adopt_p=0.7)
        p.tz = tz
        buf = Buf()
        ua, ips, _ = p.devices[0]
        t = created + r.uniform(120, 2400)
        buf.add(t, r.choice(["hello", "Hi! What can you do?", "test", "What can you help me with at work?",
                             "hi there"]), 8, r.randint(40, 160), r.choice(office), ua, p.model, p.maxtok)
        if r.random() < 0.75 and workshop_t > created:
            t = workshop_t + r.uniform(0, 50 * 60)
            for wp in r.sample(WORKSHOP_PROMPTS, r.randint(1, 4)):
                c = int(r.lognormvariate(math.log(260), 0.4))
                buf.add(t, wp, ntok(wp) + p.sys_tok, c, office[0], ua, p.model, p.maxtok)
                t += r.uniform(60, 500)
        person_activity(ctx, p, created + HOUR, w1, buf, rng, r)
        _keep_window(buf, w0, w1)
        buf.flush(sinks[which], acct.idx)
    return info


# --------------------------------------------------------------------------------------------------------------
# harvesters
# --------------------------------------------------------------------------------------------------------------

def scripted_times(rng: np.random.Generator, r: random.Random, n: int, w0: float, w1: float, mode: str,
                   tz: float) -> np.ndarray:
    """Request times of a script: round the clock, office hours of its operator, or a few long runs."""
    if n <= 0 or w1 <= w0:
        return np.empty(0)
    if mode == "continuous":
        return sample_times(rng, n, w0, w1, tz, shifted_profile(BASE_HOURLY, 0, flat=0.85), 1.0)
    if mode == "workday":
        return sample_times(rng, n, w0, w1, tz, shifted_profile(WORK_HOURLY, r.gauss(0, 1), flat=0.1),
                            r.uniform(0.2, 1.0))
    if mode == "humanlike":
        return sample_times(rng, n, w0, w1, tz, shifted_profile(BASE_HOURLY, r.gauss(0, 1.5)), r.uniform(0.6, 1.0),
                            burst_day_weights(rng, w0, w1, 1.5))
    # "runs": a handful of multi-hour runs at high concurrency
    k = max(1, min(int((w1 - w0) / DAY * r.uniform(0.4, 1.2)), n // 50 + 1))
    starts = sample_times(rng, k, w0, w1, tz, WORK_HOURLY, 0.7)
    durs = np.array([r.uniform(0.5, 6) * HOUR for _ in range(k)])
    share = rng.multinomial(n, durs / durs.sum())
    out = [s + np.sort(rng.random(m)) * d for s, d, m in zip(starts, durs, share)]
    return np.sort(np.clip(np.concatenate(out), w0, w1 - 1))


def _harvester_identity(ctx: Ctx, r: random.Random, dc_p: float, browser_p: float = 0.08):
    if r.random() < dc_p:
        ips = [datacenter_ip(r) for _ in range(r.randint(1, 3))]
    else:  # a handful of rotating residential proxies
        ips = [residential_ip(r) for _ in range(r.randint(4, 40))]
    ua = browser_ua(r, mobile_p=0.0) if r.random() < browser_p else (sdk_ua(r) if r.random() < 0.8 else
                                                                      server_ua(r))
    return ips, ua


def _created(ctx: Ctx, r: random.Random, pre_p: float, latest_day: float = 5.0) -> float:
    if r.random() < pre_p:
        return ctx.t0 - r.uniform(3, 120) * DAY
    return ctx.t0 + r.uniform(0, latest_day) * DAY


def gen_taxonomy_sweep(ctx: Ctx, n: int, sinks, rng, r) -> dict:
    subjects = list(TAXONOMY)
    tasks = list(SWEEP_TASKS)
    n_ops = max(1, min(n, r.randint(3, 7)))
    params = {"n_operators": n_ops, "operators": []}
    ops = []
    for _ in range(n_ops):
        langs = ["English"] + (r.sample(SWEEP_LANGS, r.randint(1, 4)) if r.random() < 0.35 else [])
        op = {
            "order": r.choice(["subject_major", "task_major", "shuffled"]),
            "variant_fixed": r.random() < 0.6,
            "variant": {t: r.randrange(len(SWEEP_TASKS[t][0])) for t in SWEEP_TASKS},
            "prefix": r.choice(["", "You are a world-class expert in {s}. ", "You are an expert educator. ",
                                "As a professor of {s}, ", "Topic: {s}. ", "[{s}] ", "Subject area: {s}.\n",
                                "You are a helpful tutor specialising in {s}. "]),
            "suffix": r.choice(["", " Use markdown headings.", " Be as detailed as possible.",
                                " Respond with well-structured sections and examples.", " Do not omit anything.",
                                " Format the answer in Markdown.", " Be rigorous and complete.",
                                " Include references to key works.", "\nOutput in English.",
                                " Length: as long as necessary."]),
            "levels": r.sample(SWEEP_LEVELS, r.randint(1, 4)),
            "langs": langs,
            "median_n": r.uniform(3000, 5500),
            "mode": r.choice(["continuous", "continuous", "workday", "runs", "humanlike"]),
            "tz": float(r.choice([8, 8, 8, 3, 1, -5, 5.5, 7])),
            "dc_p": r.uniform(0.3, 1.0),
            "maxtok": r.choice([-1, 4096, 8192, 8192, 16000]),
            "pre_p": r.uniform(0.2, 0.8),
            "switch_p": r.uniform(0.0, 0.8),
            "samples_per_prompt": r.choice([1, 1, 1, 2, 3]),
        }
        total = len(subjects) * 12 * len(tasks) * len(op["levels"]) * len(langs)
        op["total"] = total
        op["perm"] = rng.permutation(total) if op["order"] == "shuffled" else None
        op["cursor"] = r.randrange(total)
        ops.append(op)
        params["operators"].append({k: v for k, v in op.items() if k not in ("perm", "cursor")})
    for i in range(n):
        op = ops[i % n_ops]
        created = _created(ctx, r, op["pre_p"])
        acct = ctx.account("taxonomy_sweep", 1, rpm=r.choice([60, 200, 500, 1000]), retry_p=0.95, created=created)
        ips, ua = _harvester_identity(ctx, r, op["dc_p"])
        w0 = max(ctx.t0, created + r.uniform(0.05, 1) * HOUR)
        w1 = ctx.t1 if r.random() > 0.2 else w0 + (ctx.t1 - w0) * r.uniform(0.4, 0.95)
        nreq = int(min(12000, max(500, r.lognormvariate(math.log(op["median_n"]), 0.5))
                       * (w1 - w0) / (ctx.t1 - ctx.t0)))
        mode = op["mode"] if r.random() < 0.8 else r.choice(["continuous", "workday", "runs"])
        ts = scripted_times(rng, r, nreq, w0, w1, mode, op["tz"])
        switch = ctx.release + r.uniform(1, 30) * HOUR if r.random() < op["switch_p"] else math.inf
        L, NL, NT = len(op["langs"]), len(op["levels"]), len(tasks)
        prompts, ptoks, ctoks, models = [], [], [], []
        k_s = op["samples_per_prompt"]
        for j, t in enumerate(ts):
            if j % k_s and prompts:  # several samples of the same prompt (best-of-k / rejection sampling)
                prompts.append(prompts[-1])
                ptoks.append(ptoks[-1])
                ctoks.append(int(ctoks[-1] * r.lognormvariate(0, 0.2)))
                models.append(MODEL_NEW if t >= switch else MODEL_FLAGSHIP)
                continue
            c = op["cursor"] % op["total"]
            npass = op["cursor"] // op["total"]
            op["cursor"] += 1
            if op["perm"] is not None:
                c = int(op["perm"][c])
            if op["order"] == "task_major":
                lang, c = c % L, c // L
                lvl, c = c % NL, c // NL
                sub, c = c % 12, c // 12
                subj, task = c % len(subjects), c // len(subjects)
            else:
                lang, c = c % L, c // L
                lvl, c = c % NL, c // NL
                task, c = c % NT, c // NT
                sub, subj = c % 12, c // 12
            s = subjects[subj]
            tname = tasks[task]
            phr, med, sig = SWEEP_TASKS[tname]
            ph = phr[op["variant"][tname]] if op["variant_fixed"] else r.choice(phr)
            text = op["prefix"].format(s=s) + ph.format(t=TAXONOMY[s][sub], s=s, lvl=op["levels"][lvl],
                                                              a_lvl=_a(op["levels"][lvl])) + op["suffix"]
            if op["langs"][lang] != "English":
                text += f" Answer in {op['langs'][lang]}."
            if npass:  # a second walk over the taxonomy asks for something new
                text += " " + SWEEP_PASS_NOTES[(npass - 1) % len(SWEEP_PASS_NOTES)]
            prompts.append(text)
            ptoks.append(ntok(text))
            ctoks.append(int(med * r.lognormvariate(0, sig)))
            models.append(MODEL_NEW if t >= switch else MODEL_FLAGSHIP)
        ip_list = [r.choice(ips) for _ in ts]
        sinks["scored"].add(acct.idx, ts, prompts, ptoks, ctoks, ip_list, ua, models, op["maxtok"])
    return params


def gen_reasoning(ctx: Ctx, n: int, sinks, rng, r) -> dict:
    params = {"median_n": r.uniform(1500, 3200), "completion_median": r.uniform(1200, 2200),
              "share_rubric": r.uniform(0.0, 0.3), "dc_p": r.uniform(0.3, 0.9), "pre_p": r.uniform(0.2, 0.7),
              "modes": r.sample(["continuous", "workday", "runs", "humanlike"], r.randint(2, 4))}
    for _ in range(n):
        created = _created(ctx, r, params["pre_p"])
        acct = ctx.account("reasoning_elicitation", 1, rpm=r.choice([60, 200, 500, 1000]), retry_p=0.95,
                           created=created)
        ips, ua = _harvester_identity(ctx, r, params["dc_p"])
        w0 = max(ctx.t0, created + r.uniform(0.05, 1) * HOUR)
        w1 = ctx.t1
        nreq = int(min(8000, max(300, r.lognormvariate(math.log(params["median_n"]), 0.5)
                                 * (w1 - w0) / (ctx.t1 - ctx.t0))))
        ts = scripted_times(rng, r, nreq, w0, w1, r.choice(params["modes"]), float(r.choice([8, 8, 3, 1, -5, 5.5])))
        kinds = list(range(18))
        kw = list(rng.dirichlet(np.full(18, 0.6)))
        if r.random() < params["share_rubric"] * 3:
            kinds += [18, 19]
            kw += [r.uniform(0.1, 0.6), r.uniform(0.05, 0.4)]
        sufs = r.sample(COT_SUFFIXES, r.randint(2, 5))
        persona = r.choice(REASONING_PERSONAS)
        maxtok = r.choice([-1, -1, 8192, 16000, 32000])
        med = params["completion_median"] * r.uniform(0.8, 1.3)
        switch = ctx.release + r.uniform(1, 48) * HOUR if r.random() < 0.5 else math.inf
        prompts, ptoks, ctoks, models = [], [], [], []
        for t in ts:
            _, prob = _reasoning_problem(r, r.choices(kinds, weights=kw)[0])
            text = persona + prob + ("\n\n" if r.random() < 0.5 else " ") + r.choice(sufs)
            prompts.append(text)
            ptoks.append(ntok(text))
            ctoks.append(int(med * r.lognormvariate(0, 0.45)))
            models.append(MODEL_NEW if t >= switch else MODEL_FLAGSHIP)
        sinks["scored"].add(acct.idx, ts, prompts, ptoks, ctoks, [r.choice(ips) for _ in ts], ua, models, maxtok)
    return params


def gen_post_release(ctx: Ctx, n: int, sinks, rng, r) -> dict:
    params = {"release_utc": ctx.release, "lag_median_h": r.uniform(0.3, 4.0), "peak_per_hour": r.uniform(14, 35),
              "plateau_h": (r.uniform(8, 20), r.uniform(24, 60)), "half_life_h": r.uniform(8, 36),
              "pre_existing_p": r.uniform(0.3, 0.7), "rerun_p": r.uniform(0.0, 0.4), "dc_p": r.uniform(0.3, 0.9)}
    for _ in range(n):
        existing = r.random() < params["pre_existing_p"]
        created = ctx.t0 - r.uniform(5, 90) * DAY if existing else ctx.release - r.uniform(0.2, 3.0) * DAY
        acct = ctx.account("post_release_burst", 1, rpm=r.choice([200, 500, 1000]), retry_p=0.95, created=created)
        ips, ua = _harvester_identity(ctx, r, params["dc_p"])
        maxtok = r.choice([-1, 4096, 8192, 16000])
        prompts, ptoks, ctoks, models, tss = [], [], [], [], []
        # before the release: light probing of the old model
        w0 = max(ctx.t0, created)
        pre_n = int(r.uniform(3, 30) * (ctx.release - w0) / DAY) if existing else r.randint(2, 12)
        pre_ts = scripted_times(rng, r, pre_n, w0, ctx.release, "humanlike" if existing else "workday", 8.0)
        pre_prompts = []
        for t in pre_ts:
            text, med = _capability_prompt(r)
            pre_prompts.append((text, med))
            tss.append(t), prompts.append(text), ptoks.append(ntok(text))
            ctoks.append(int(med * r.lognormvariate(0, 0.4))), models.append(MODEL_FLAGSHIP)
        # after the release: hammer the new model
        start = ctx.release + params["lag_median_h"] * r.lognormvariate(0, 0.5) * HOUR
        peak = params["peak_per_hour"] * r.lognormvariate(0, 0.5)
        plateau = r.uniform(*params["plateau_h"]) * HOUR
        hl = params["half_life_h"] * r.uniform(0.6, 1.5) * HOUR

        def rate(hs, start=start, plateau=plateau, hl=hl):
            x = hs - start
            return np.where(x < -HOUR, 0.0, np.where(x < plateau, 1.0, np.power(0.5, (x - plateau) / hl)))

        if start < ctx.t1:
            grid = np.arange(math.floor(start / HOUR), math.ceil(ctx.t1 / HOUR)) * HOUR
            expected = float(peak * rate(grid).sum())
            n_post = int(min(9000, rng.poisson(expected)))
            post_ts = sample_times(rng, max(1, n_post), start, ctx.t1, 0.0, np.ones(24) / 24, 1.0, None, rate)
            for t in post_ts:
                if pre_prompts and r.random() < params["rerun_p"]:
                    text, med = r.choice(pre_prompts)
                else:
                    text, med = _capability_prompt(r)
                tss.append(t), prompts.append(text), ptoks.append(ntok(text))
                ctoks.append(int(med * r.lognormvariate(0, 0.4)))
                models.append(MODEL_NEW if r.random() < 0.97 else MODEL_FLAGSHIP)
        sinks["scored"].add(acct.idx, tss, prompts, ptoks, ctoks, [r.choice(ips) for _ in tss], ua, models, maxtok)
    return params


def gen_verbatim(ctx: Ctx, n: int, sinks, rng, r) -> dict:
    n_ops = max(1, min(n, r.randint(2, 6)))
    params = {"n_operators": n_ops, "median_n": r.uniform(120, 320), "gap_median_s": r.uniform(25, 150),
              "session_len": r.uniform(3, 12), "browser_ua_p": r.uniform(0.4, 0.9), "sharded_p": r.uniform(0.3, 1)}
    pub = list(ctx.public_first)
    shards = {}
    for o in range(n_ops):
        order = pub[:]
        random.Random(r.random()).shuffle(order)
        shards[o] = {"order": order, "ptr": 0, "sharded": r.random() < params["sharded_p"]}
    for i in range(n):
        op = shards[i % n_ops]
        region = r.choices(REGION_NAMES, weights=list(REGION_P))[0]
        tz = _tz_for(r, region)
        created = _created(ctx, r, 0.5, latest_day=8)
        acct = ctx.account("verbatim_replay", 1, rpm=r.choice([50, 500]), retry_p=0.8, created=created)
        ua = browser_ua(r) if r.random() < params["browser_ua_p"] else sdk_ua(r)
        ips = [residential_ip(r, region) for _ in range(r.randint(1, 2))]
        w0 = max(ctx.t0, created)
        nreq = int(max(20, min(900, r.lognormvariate(math.log(params["median_n"]), 0.6)
                               * (ctx.t1 - w0) / (ctx.t1 - ctx.t0))))
        n_sess = max(1, int(nreq / params["session_len"]))
        starts = sample_times(rng, n_sess, w0, ctx.t1, tz, shifted_profile(BASE_HOURLY, r.gauss(0, 1.3)),
                              r.uniform(0.6, 1.1), burst_day_weights(rng, w0, ctx.t1, 1.0))
        per = rng.multinomial(nreq, np.ones(n_sess) / n_sess)
        maxtok = -1 if r.random() < 0.7 else r.choice([1024, 2048, 4096])
        tss, prompts, ptoks, ctoks = [], [], [], []
        for s, m in zip(starts, per):
            t = float(s)
            for _ in range(m):
                if op["sharded"]:
                    ci = op["order"][op["ptr"] % len(op["order"])]
                    op["ptr"] += 1
                else:
                    ci = r.choice(pub)
                c = ctx.convs[ci]
                tss.append(t), prompts.append(c.turns[0]), ptoks.append(c.ptok[0])
                comp = int(c.atok[0] * r.lognormvariate(0, 0.25)) + 1
                ctoks.append(comp)
                t += 0.6 + comp / r.uniform(45, 95) + r.lognormvariate(math.log(params["gap_median_s"]), 0.7)
        model = MODEL_FLAGSHIP if r.random() < 0.85 else MODEL_SMALL
        keep = [k for k, t in enumerate(tss) if t < ctx.t1] or [0]
        sinks["scored"].add(acct.idx, [min(tss[k], ctx.t1 - 1) for k in keep], [prompts[k] for k in keep],
                            [ptoks[k] for k in keep], [ctoks[k] for k in keep],
                            [r.choice(ips) for _ in keep], ua, model, maxtok)
    return params


def gen_campaign(ctx: Ctx, n: int, sinks, rng, r) -> dict:
    """One operator, many fresh accounts behind a residential proxy pool, human-like pacing."""
    n_tmpl = r.randint(6, len(CAMPAIGN_TEMPLATES))
    p = {
        "campaign_id": CAMPAIGN_ID,
        "signup_start_day": r.uniform(0.3, 4.0), "signup_span_days": r.uniform(1.5, 4.0),
        "median_requests": r.uniform(170, 360), "burn_p": r.uniform(0.0, 0.3),
        "operator_tz_p": r.uniform(0.0, 0.6), "operator_tz": 8.0, "geo_matched_ip_p": r.uniform(0.3, 1.0),
        "gap_median_s": r.uniform(20, 90), "session_len": r.uniform(5, 18), "weekend": r.uniform(0.5, 1.0),
        "stale_ua_p": r.uniform(0.0, 0.5), "templated_accounts": r.uniform(0.3, 0.8),
        "templated_prompt_p": r.uniform(0.5, 0.9), "operator_templates": r.sample(range(len(CAMPAIGN_TEMPLATES)),
                                                                                 n_tmpl),
        "public_seed_p": r.uniform(0.02, 0.12), "followup_p": r.uniform(0.0, 0.25),
        "maxtok_mode": r.choice(["unset", "fixed", "per_account"]), "maxtok_fixed": r.choice([4096, 8192]),
        "switch_new_p": r.uniform(0.3, 1.0), "switch_lag_h": r.uniform(2, 24),
        "completion_median": r.uniform(800, 1400),
    }
    s0 = ctx.t0 + p["signup_start_day"] * DAY
    for _ in range(n):
        created = s0 + r.betavariate(2, 2) * p["signup_span_days"] * DAY
        created = min(created, ctx.t1 - DAY)
        acct = ctx.account("proxy_campaign", 1, campaign_id=CAMPAIGN_ID, rpm=50, retry_p=0.9, created=created)
        region = r.choices(REGION_NAMES, weights=list(REGION_P))[0]
        tz = p["operator_tz"] if r.random() < p["operator_tz_p"] else _tz_for(r, region)
        geo = r.random() < p["geo_matched_ip_p"]
        ips = [residential_ip(r, region if geo else None) for _ in range(r.choices([1, 2, 3, 4],
                                                                                 weights=[3, 4, 3, 2])[0])]
        ua = browser_ua(r, stale=r.random() < p["stale_ua_p"])
        templated = r.random() < p["templated_accounts"]
        my_t = r.sample(p["operator_templates"], min(len(p["operator_templates"]), r.randint(2, 5)))
        if p["maxtok_mode"] == "unset":
            maxtok = -1
        elif p["maxtok_mode"] == "fixed":
            maxtok = p["maxtok_fixed"]
        else:
            maxtok = r.choice([-1, 2048, 4096, 8192])
        w0 = created + r.expovariate(1 / (6 * HOUR))
        w1 = ctx.t1 if r.random() > p["burn_p"] else w0 + (ctx.t1 - w0) * r.uniform(0.2, 0.9)
        if w0 >= ctx.t1 - HOUR:
            w0 = ctx.t1 - 2 * HOUR
            w1 = ctx.t1
        w1 = max(w1, w0 + HOUR)
        nreq = int(min(800, max(30, r.lognormvariate(math.log(p["median_requests"]), 0.45)
                                * min(1.0, (w1 - w0) / (8 * DAY)))))
        n_sess = max(1, int(round(nreq / p["session_len"])))
        starts = sample_times(rng, n_sess, w0, w1, tz, shifted_profile(BASE_HOURLY, r.gauss(0, 1.2)),
                              p["weekend"], burst_day_weights(rng, w0, w1, 1.5))
        per = rng.multinomial(nreq, np.ones(n_sess) / n_sess)
        switch = ctx.release + p["switch_lag_h"] * HOUR if r.random() < p["switch_new_p"] else math.inf
        tss, prompts, ptoks, ctoks, ipl, models = [], [], [], [], [], []
        for s, m in zip(starts, per):
            t = float(s)
            ip = r.choice(ips)
            hist = 0
            for j in range(m):
                if j > 0 and r.random() < p["followup_p"]:
                    text = r.choice(CAMPAIGN_FOLLOWUPS)
                    med = p["completion_median"] * 0.7
                elif templated and r.random() < p["templated_prompt_p"]:
                    text = _campaign_templated(r, CAMPAIGN_TEMPLATES[r.choice(my_t)])
                    med = p["completion_median"] * 1.1
                    hist = 0
                elif r.random() < p["public_seed_p"]:
                    c = ctx.convs[r.choice(ctx.public_first)]
                    text = c.turns[0] + r.choice(["", " Please answer in detail and explain your reasoning.",
                                                  "\n\nGive a thorough, step-by-step answer.",
                                                  "\n\nAnswer comprehensively.", " Explain your reasoning."])
                    med = max(300, c.atok[0] * 1.3)
                    hist = 0
                else:
                    text = _freeform_prompt(r)
                    med = p["completion_median"] * 0.8
                    hist = 0
                pt = ntok(text)
                comp = int(med * r.lognormvariate(0, 0.4)) + 1
                tss.append(t), prompts.append(text), ptoks.append(pt + hist), ctoks.append(comp), ipl.append(ip)
                models.append(MODEL_NEW if t >= switch else MODEL_FLAGSHIP)
                hist += pt + comp
                t += 0.6 + comp / r.uniform(45, 95) + r.lognormvariate(math.log(p["gap_median_s"]), 0.6)
                if r.random() < 0.05:
                    t += r.expovariate(1 / 900)
        keep = [k for k, t in enumerate(tss) if t < ctx.t1] or [0]
        sinks["scored"].add(acct.idx, [min(tss[k], ctx.t1 - 1) for k in keep], [prompts[k] for k in keep],
                            [ptoks[k] for k in keep], [ctoks[k] for k in keep], [ipl[k] for k in keep], ua,
                            [models[k] for k in keep], maxtok)
    p["signup_window_utc"] = [s0, s0 + p["signup_span_days"] * DAY]
    return p


# --------------------------------------------------------------------------------------------------------------
# status codes, retries, request ids; assembling the files
# --------------------------------------------------------------------------------------------------------------

def finalize(ctx: Ctx, sink: Sink, rng: np.random.Generator, w0: float, w1: float,
             incidents: list[tuple[float, float]]) -> pd.DataFrame:
    acct = np.concatenate(sink.acct)
    ts = np.concatenate(sink.ts)
    ptok = np.concatenate(sink.ptok)
    ctok = np.concatenate(sink.ctok)
    maxtok = np.concatenate(sink.maxtok)
    prompt = np.array(sink.prompt, dtype=object)
    ip = np.array(sink.ip, dtype=object)
    ua = np.array(sink.ua, dtype=object)
    model = np.array(sink.model, dtype=object)
    ts = np.clip(ts, w0, w1 - 0.001)
    n = len(ts)
    # 1. rate limits: requests beyond the tier's per-minute limit get a 429; most clients retry
    rpm = np.array([a.rpm for a in ctx.accounts], dtype=np.int64)
    retry_p = np.array([a.retry_p for a in ctx.accounts])
    minute = np.floor(ts / 60).astype(np.int64)
    order = np.lexsort((ts, minute, acct))
    a_s, m_s = acct[order], minute[order]
    new_grp = np.r_[True, (a_s[1:] != a_s[:-1]) | (m_s[1:] != m_s[:-1])]
    grp_start = np.maximum.accumulate(np.where(new_grp, np.arange(n), 0))
    rank = np.arange(n) - grp_start
    over = order[rank >= rpm[a_s]]
    limited = over[rng.random(len(over)) < 0.97]
    status = np.full(n, 200, dtype=np.int16)
    status[limited] = 429
    rl = limited[rng.random(len(limited)) < retry_p[acct[limited]]]
    rts = ts[rl] + rng.uniform(1, 20, len(rl)) * rng.choice([1, 1, 2, 4], len(rl))
    inside = rts < w1
    rl, rts = rl[inside], rts[inside]
    acct = np.r_[acct, acct[rl]]
    ts = np.r_[ts, rts]
    ptok = np.r_[ptok, ptok[rl]]
    ctok_full = np.r_[ctok, ctok[rl]]
    maxtok = np.r_[maxtok, maxtok[rl]]
    prompt = np.r_[prompt, prompt[rl]]
    ip = np.r_[ip, ip[rl]]
    ua = np.r_[ua, ua[rl]]
    model = np.r_[model, model[rl]]
    status = np.r_[status, np.full(len(rl), 200, dtype=np.int16)]
    n = len(ts)
    # 2. server-side errors: a base rate, overload right after the release, and a few incidents
    p_err = np.full(n, 0.0008)
    after = ts >= ctx.release
    p_over = np.where(after, 0.05 * np.exp(-(ts - ctx.release) / (10 * HOUR)), 0.0)
    p_over = np.where(model == MODEL_NEW, p_over * 1.6, p_over * 0.5)
    for a, b in incidents:
        p_over = np.where((ts >= a) & (ts < b), np.maximum(p_over, 0.08), p_over)
    u = rng.random(n)
    ok = status == 200
    status[ok & (u < p_over)] = 529
    status[ok & (u >= p_over) & (u < p_over + p_err)] = 500
    status[(status == 200) & ((ptok > 190_000) | (rng.random(n) < 0.001))] = 400
    # 3. completion length: truncated by max_tokens, zero on failure
    ctok = np.where(maxtok >= 0, np.minimum(ctok_full, maxtok), ctok_full)
    ctok = np.where(status == 200, ctok, 0)
    # 4. ids and frame
    hi = rng.integers(0, 2**63, n, dtype=np.int64)
    lo = rng.integers(0, 2**31, n, dtype=np.int64)
    rid = np.array([f"req_{a:016x}{b:08x}" for a, b in zip(hi.tolist(), lo.tolist())], dtype=object)
    ids = np.array([a.account_id for a in ctx.accounts], dtype=object)
    orgs = np.array([a.org_id for a in ctx.accounts], dtype=object)
    srt = np.argsort(ts, kind="stable")
    df = pd.DataFrame({
        "timestamp": pd.to_datetime(np.round(ts[srt] * 1000).astype(np.int64), unit="ms", utc=True),
        "account_id": ids[acct[srt]],
        "org_id": orgs[acct[srt]],
        "request_id": rid[srt],
        "model": model[srt],
        "prompt": prompt[srt],
        "prompt_tokens": ptok[srt].astype(np.int64),
        "completion_tokens": ctok[srt].astype(np.int64),
        "max_tokens": pd.array(np.where(maxtok[srt] >= 0, maxtok[srt], 0), dtype="Int64"),
        "status": status[srt].astype(str).astype(object),
        "ip": ip[srt],
        "user_agent": ua[srt],
    })
    df.loc[maxtok[srt] < 0, "max_tokens"] = pd.NA
    df.attrs["acct_idx"] = acct[srt]
    return df


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else round(float(x), 6)
    return x


def _iso(t: float) -> str:
    return pd.Timestamp(t, unit="s", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(seed: int, out: str | Path, small: bool = False) -> dict:
    """Write ``scored.parquet``, ``reference.parquet``, ``labels.csv`` and ``manifest.json`` into ``out``."""
    started = time.time()
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"output directory {out} exists and is not empty")
    rng = np.random.default_rng(seed)
    r = random.Random(int(rng.integers(2**62)))
    week = int(rng.integers(0, 21))
    t0 = pd.Timestamp("2026-01-05", tz="UTC").timestamp() + week * 7 * DAY  # a Monday
    t1 = t0 + SCORED_DAYS * DAY
    release = t0 + r.choice([1, 2, 3, 8, 9]) * DAY + r.uniform(15, 19) * HOUR

    convs = load_conversations()
    perm = rng.permutation(len(convs))
    public_frac = r.uniform(0.15, 0.22)
    n_pub = int(public_frac * len(convs))
    public, private = perm[:n_pub], perm[n_pub:]
    code_private = np.array([i for i in private if convs[i].code])
    ctx = Ctx(seed=seed, small=small, rng=rng, r=r, t0=t0, t1=t1, ref0=t0 - REFERENCE_DAYS * DAY, release=release,
              convs=convs, private=ChatPool(convs, private, random.Random(r.random())),
              code_private=ChatPool(convs, code_private, random.Random(r.random())),
              public_first=[int(i) for i in public],
              articles=[convs[i].answer for i in private if len(convs[i].answer) >= 300],
              benchmarks=build_benchmarks())
    ctx.ipools = {
        "cgnat": {reg: [residential_ip(r, reg) for _ in range(150)] for reg in REGION_NAMES},
        "office": {reg: [residential_ip(r, reg) if r.random() < 0.5 else datacenter_ip(r) for _ in range(300)]
                   for reg in REGION_NAMES},
        "vpn": [datacenter_ip(r) for _ in range(1500)],
    }
    counts = family_counts(small)
    sinks = {"scored": Sink(), "reference": Sink()}
    ref_p = r.uniform(0.45, 0.65)
    params: dict = {"period": {"scored_start": _iso(t0), "scored_end": _iso(t1), "reference_start": _iso(ctx.ref0),
                               "release_utc": _iso(release), "new_model": MODEL_NEW},
                    "text": {"public_fraction": public_frac, "conversations": len(convs), "public": n_pub,
                             "private": len(private), "private_code": len(code_private)},
                    "reference_inclusion_p": ref_p}
    timings = {}

    def existing_created(rr: random.Random) -> float:
        return ctx.ref0 + rr.uniform(0, REFERENCE_DAYS) * DAY if rr.random() < 0.08 else \
            t0 - rr.uniform(8, 700) * DAY

    # ---- benign -------------------------------------------------------------------------------------------
    tic = time.time()
    rng_f, r_f = ctx.sub()
    for _ in range(counts["human"]):
        created = existing_created(r_f)
        acct = ctx.account("human", 0, rpm=500, retry_p=r_f.uniform(0.2, 0.9), created=created,
                           in_reference=r_f.random() < ref_p)
        gen_human(ctx, acct, make_person(ctx, r_f), sinks, rng_f, r_f)
    n_churn = int(round(0.12 * counts["human"] * ref_p))
    for _ in range(n_churn):  # reference-only: people who stopped using the API before the scored window
        acct = ctx.account("human", 0, rpm=500, created=existing_created(r_f), in_scored=False, in_reference=True)
        gen_human(ctx, acct, make_person(ctx, r_f), sinks, rng_f, r_f)
    timings["human"] = time.time() - tic

    tic = time.time()
    rng_f, r_f = ctx.sub()
    taus = []
    for _ in range(counts["new_signup"]):
        created = t0 + r_f.uniform(0, SCORED_DAYS * DAY - 3 * HOUR)
        acct = ctx.account("new_signup", 0, rpm=50, retry_p=r_f.uniform(0.2, 0.9), created=created)
        p = make_person(ctx, r_f)
        p.rate = min(8.0, p.rate * r_f.uniform(1.0, 2.5))
        tau = r_f.lognormvariate(math.log(2.5), 0.8)
        taus.append(tau)
        gen_human(ctx, acct, p, sinks, rng_f, r_f, new_tau=tau)
    params["new_signup"] = {"decay_tau_days_median": float(np.median(taus)) if taus else None}
    timings["new_signup"] = time.time() - tic

    tic = time.time()
    rng_f, r_f = ctx.sub()
    pu_stats = {"app": 0, "agent": 0, "early_adopter": 0}
    for k in range(counts["power_user"] + int(round(0.1 * counts["power_user"] * ref_p))):
        scored = k < counts["power_user"]
        acct = ctx.account("power_user", 0, rpm=r_f.choice([1000, 2000, 4000]), retry_p=0.9,
                           created=existing_created(r_f), in_scored=scored,
                           in_reference=(not scored) or r_f.random() < ref_p)
        persona = make_power_user(ctx, r_f)
        pu_stats["app"] += persona[1] is not None
        pu_stats["agent"] += persona[2] is not None
        pu_stats["early_adopter"] += persona[0].switch_at < release + DAY
        gen_power_user(ctx, acct, persona, sinks, rng_f, r_f)
    params["power_user"] = pu_stats
    timings["power_user"] = time.time() - tic

    tic = time.time()
    for fam, make, gen, rpm in (("eval_harness", make_eval_harness, gen_eval_harness, (500, 1000, 3000, 10000)),
                                ("batch_enterprise", make_batch_job, gen_batch, (5000, 10000)),
                                ("tutoring_platform", make_tutoring, gen_tutoring, (2000, 5000)),
                                ("reseller", make_reseller, gen_reseller, (3000, 10000))):
        rng_f, r_f = ctx.sub()
        orgs: list[str] = []
        fam_params = []
        for _ in range(counts[fam]):
            org = r_f.choice(orgs) if orgs and fam == "eval_harness" and r_f.random() < 0.35 else ctx.new_org()
            orgs.append(org)
            acct = ctx.account(fam, 0, org=org, rpm=r_f.choice(rpm), retry_p=0.95, created=t0 - r_f.uniform(20, 500)
                               * DAY, in_reference=r_f.random() < max(ref_p, 0.6))
            pers = make(ctx, r_f)
            gen(ctx, acct, pers, sinks, rng_f, r_f)
            fam_params.append({k: v for k, v in pers.items() if k not in ("users", "ips", "jobs", "prof")}
                              | ({"jobs": list(pers["jobs"])} if "jobs" in pers else {}))
        params[fam] = fam_params
    timings["special_benign"] = time.time() - tic

    tic = time.time()
    rng_f, r_f = ctx.sub()
    params["onboarding_cohort"] = gen_cohort(ctx, counts["onboarding_cohort"], t0, t1, "scored", sinks, rng_f, r_f)
    params["onboarding_cohort_reference"] = gen_cohort(ctx, counts["onboarding_cohort"], ctx.ref0, t0, "reference",
                                                       sinks, rng_f, r_f)
    timings["onboarding_cohort"] = time.time() - tic

    # ---- harvesters ---------------------------------------------------------------------------------------
    for fam, gen in (("taxonomy_sweep", gen_taxonomy_sweep), ("reasoning_elicitation", gen_reasoning),
                     ("post_release_burst", gen_post_release), ("verbatim_replay", gen_verbatim),
                     ("proxy_campaign", gen_campaign)):
        tic = time.time()
        rng_f, r_f = ctx.sub()
        params[fam] = gen(ctx, counts[fam], sinks, rng_f, r_f)
        timings[fam] = time.time() - tic

    # ---- assemble -----------------------------------------------------------------------------------------
    tic = time.time()
    incidents = []
    for _ in range(r.randint(1, 3)):
        a = t0 + r.uniform(0, SCORED_DAYS) * DAY
        incidents.append((a, a + r.uniform(15, 60) * 60))
    ref_incident = ctx.ref0 + r.uniform(0, REFERENCE_DAYS) * DAY
    rng_out = np.random.default_rng(int(rng.integers(2**62)))
    scored = finalize(ctx, sinks["scored"], rng_out, t0, t1, incidents)
    reference = finalize(ctx, sinks["reference"], rng_out, ctx.ref0, t0,
                         [(ref_incident, ref_incident + r.uniform(15, 60) * 60)])
    del sinks
    params["incidents_utc"] = [[_iso(a), _iso(b)] for a, b in incidents]
    params["text"]["private_pool_passes"] = ctx.private.passes + ctx.private.ptr / len(ctx.private.order)
    params["text"]["code_pool_passes"] = ctx.code_private.passes + ctx.code_private.ptr / len(ctx.code_private.order)

    scored_idx = np.unique(scored.attrs.pop("acct_idx"))
    ref_idx = np.unique(reference.attrs.pop("acct_idx"))
    accts = ctx.accounts
    assert all(accts[i].label == 0 for i in ref_idx), "a harvester leaked into the reference"
    labels = pd.DataFrame({"account_id": [accts[i].account_id for i in scored_idx],
                           "label": [accts[i].label for i in scored_idx],
                           "family": [accts[i].family for i in scored_idx],
                           "campaign_id": [accts[i].campaign_id for i in scored_idx]})
    labels = labels.sort_values("account_id").reset_index(drop=True)
    fam_of = dict(zip(labels.account_id, labels.family))
    rows_per_family = scored["account_id"].map(fam_of).value_counts().to_dict()
    ref_fam = {accts[i].account_id: accts[i].family for i in ref_idx}
    ref_rows_per_family = reference["account_id"].map(ref_fam).value_counts().to_dict()
    timings["assemble"] = time.time() - tic

    tic = time.time()
    out.mkdir(parents=True, exist_ok=True)
    scored.to_parquet(out / "scored.parquet", index=False)
    reference.to_parquet(out / "reference.parquet", index=False)
    labels.to_csv(out / "labels.csv", index=False)
    timings["write"] = time.time() - tic
    ref_ids = set(reference["account_id"].unique())
    manifest = {
        "generator": GENERATOR_VERSION,
        "seed": seed,
        "small": small,
        "configured_counts": counts,
        "sizes": {
            "scored_rows": len(scored), "scored_accounts": len(labels),
            "scored_harvesters": int(labels.label.sum()), "scored_benign": int((labels.label == 0).sum()),
            "reference_rows": len(reference), "reference_accounts": len(ref_ids),
            "reference_accounts_also_scored": len(ref_ids & set(labels.account_id)),
            "scored_status_counts": scored["status"].value_counts().to_dict(),
        },
        "family_accounts": labels.family.value_counts().to_dict(),
        "family_rows": rows_per_family,
        "reference_family_accounts": pd.Series(list(ref_fam.values())).value_counts().to_dict(),
        "reference_family_rows": ref_rows_per_family,
        "params": params,
        "timings_s": timings,
        "runtime_s": round(time.time() - started, 2),
        "notes": ("prompt = the new user message; prompt_tokens also counts re-sent conversation history and "
                  "system prompts. Reference = the 7 days before the scored window, benign only; it shares "
                  "account ids with the scored window for a random subset of pre-existing benign accounts."),
    }
    (out / "manifest.json").write_text(json.dumps(_jsonable(manifest), indent=2))
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    ap.add_argument("--small", action="store_true", help="~5 %% of the full size (for tests)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(f"error: output directory {out} exists and is not empty", file=sys.stderr)
        return 2
    m = generate(a.seed, out, small=a.small)
    s = m["sizes"]
    print(f"wrote {out}: {s['scored_rows']} scored rows / {s['scored_accounts']} accounts "
          f"({s['scored_harvesters']} harvesters), {s['reference_rows']} reference rows in {m['runtime_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
