"""Rule engine throughput: every shipped rule on 10,000 realistic comments, on one core.

    python bench/rules.py [--comments 10000] [--runs 5] [--naive-sample 1000] [--rules PATH ...]

The comments are the demo thread's (bot/demo/thread.yaml: civil, heated, abusive, obfuscated,
quoted) mixed with generated ordinary English: sentences of common words with the
punctuation, numbers, contractions, curly quotes and emoji real comments have. Prints
comments per second (CPU time of this process, so other load on the machine does not count)
for normalize + match, and the same for a naive matcher (one `re.search`
per term of every rule and list, on the lower-cased text, timed on a sample), and the ratio.
The engine is timed over `--runs` passes: the best pass is the figure, the median and the
slowest show how noisy the machine was. Targets: >= 20,000 comments/s and >= 10x the naive
loop.

It times the `bot` package of this checkout: pure Python, unless its hot modules were
compiled in place (setup.py; about 1.25x faster). To time the compiled build, compile a
scratch copy, never your working tree (a compiled module shadows later edits of its source):

    git worktree add /tmp/modbot-c && cd /tmp/modbot-c
    MODBOT_COMPILE=1 python setup.py build_ext --inplace && python bench/rules.py
"""

from __future__ import annotations

import argparse
import platform
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.demo.thread import load_thread  # noqa: E402
from bot.models import Comment  # noqa: E402
from bot.normalize import normalize  # noqa: E402
from bot.rules import engine_build  # noqa: E402
from bot.rules.loader import literal_terms, load_rules  # noqa: E402

WORDS = """the of and to a in is it you that he was for on are with as his they be at one have
this from or had by not word but what some we can out other were all there when up use your
how said an each she which do their time if will way about many then them write would like so
these her long make thing see him two has look more day could go come did number sound no most
people my over know water than call first who may down side been now find any new work part
take get place made live where after back little only round man year came show every good me
give our under name very through just form sentence great think say help low line differ turn
cause much mean before move right boy old too same tell does set three want air well also play
small end put home read hand port large spell add even land here must big high such follow act
why ask men change went light kind off need house picture try us again animal point mother
world near build self earth father head stand own page should country found answer school grow
study still learn plant cover food sun four between state keep eye never last let thought city
tree cross farm hard start might story saw far sea draw left late run while press close night
real life few north open seem together next white children begin got walk example ease paper
group always music those both mark often letter until mile river car feet care second book
carry took science eat room friend began idea fish mountain stop once base hear horse cut sure
watch color face wood main enough plain girl usual young ready above ever red list though feel
talk bird soon body dog family direct pose leave song measure door product black short numeral
class wind question happen complete ship area half rock order fire south problem piece told
knew pass since top whole king space heard best hour better true during hundred five remember
step early hold west ground interest reach fast verb sing listen six table travel less morning
ten simple several vowel toward war lay against pattern slow center love person money serve
appear road map rain rule govern pull cold notice voice unit power town fine certain fly fall
lead cry dark machine note wait plan figure star box noun field rest correct able pound done
beauty drive stood contain front teach week final gave green oh quick develop ocean warm free
minute strong special mind behind clear tail produce fact street inch multiply nothing course
stay wheel full force blue object decide surface deep moon island foot system busy test record
boat common gold possible plane stead dry wonder laugh thousand ago ran check game shape equate
hot miss brought heat snow tire bring yes distant fill east paint language among council budget
levy housing vote meeting neighbours taxes armory parking traffic zoning landlord renters
""".split()  # noqa: SIM905 (a word list reads better as text)
EXTRAS = [
    "I'll",
    "don't",
    "that's",
    "it’s",
    "we’re",
    "$140",
    "60%",
    "5-4",
    "3rd",
    "2024",
    "co-op",
    "e.g.",
    "👍",
    "😂",
    "“really”",
    "(honestly)",
    "year-six",
    "Scunthorpe",
    "classic",
    "assassinated",
]


def sentence(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(5, 22))]
    for _ in range(rng.randint(0, 2)):
        words.insert(rng.randrange(len(words)), rng.choice(EXTRAS))
    if rng.random() < 0.3:
        words.insert(rng.randrange(1, len(words)), ",")
    text = " ".join(words).replace(" ,", ",")
    return text[0].upper() + text[1:] + rng.choice(".....?!")


def corpus(n: int, seed: int = 7) -> list[str]:
    """`n` comments: one in five from the demo thread, the rest generated English."""
    rng = random.Random(seed)
    thread = [c.text for c in load_thread().comments]
    out = []
    for _ in range(n):
        if rng.random() < 0.2:
            out.append(rng.choice(thread))
        else:
            out.append(" ".join(sentence(rng) for _ in range(rng.randint(1, 5))))
    return out


def all_terms(paths: list[Path]) -> list[str]:
    """Every literal term of every rule and list: what a naive matcher searches one by one."""
    return sorted(t for t in literal_terms(paths) if "*" not in t)


def engine_rates(paths: list[Path], texts: list[str], runs: int) -> tuple[list[float], int]:
    """Comments per second of each pass, and the hits of the last."""
    rules = load_rules(paths)
    comments = [Comment(site="bench", id=str(i), text=t) for i, t in enumerate(texts)]
    for comment in comments[:200]:  # warm the folding caches
        rules.match(comment, normalize(comment))
    rates, hits = [], 0
    for _ in range(runs):
        start = time.process_time()
        hits = sum(len(rules.match(c, normalize(c))) for c in comments)
        rates.append(len(comments) / (time.process_time() - start))
    return rates, hits


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def naive_rate(paths: list[Path], texts: list[str]) -> tuple[float, int]:
    patterns = [re.compile(rf"(?<!\w){re.escape(t.lower())}(?!\w)") for t in all_terms(paths)]
    start = time.process_time()
    found = 0
    for text in texts:
        lowered = text.lower()
        for pattern in patterns:
            if pattern.search(lowered):
                found += 1
    return len(texts) / (time.process_time() - start), len(patterns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5, help="timed passes of the engine")
    parser.add_argument("--naive-sample", type=int, default=1_000)
    parser.add_argument("--rules", type=Path, action="append")
    args = parser.parse_args()
    paths = args.rules or [ROOT / "rules"]
    texts = corpus(args.comments)
    rates, hits = engine_rates(paths, texts, max(1, args.runs))
    rate = max(rates)
    naive, terms = naive_rate(paths, texts[: args.naive_sample])
    chars = sum(map(len, texts)) / len(texts)
    print(f"{len(texts)} comments (mean {chars:.0f} chars), {len(load_rules(paths).rules)} rules")
    print(f"engine: {rate:,.0f} comments/s on one core ({hits} hits)")
    print(
        f"        best of {len(rates)} passes; median {statistics.median(rates):,.0f}, "
        f"slowest {min(rates):,.0f} ({cpu_name()}; {engine_build()})"
    )
    print(f"naive:  {naive:,.0f} comments/s ({terms} terms, one re.search each)")
    print(f"ratio:  {rate / naive:.1f}x")


if __name__ == "__main__":
    main()
