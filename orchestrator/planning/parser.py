"""Reads a plain-language request into the actions it asks for, by small word rules.

No language model is involved, so the same text always gives the same actions. Words
no rule consumes are handed back in `not_understood`, so a caller can refuse to plan
a request it only half understood instead of guessing.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import Field

from orchestrator.errors import CannotPlan
from orchestrator.models import MAX_NAME, Model, is_valid_name

# Words that add nothing on their own and never make a request unplannable.
FILLER = frozenset({
    "please", "and", "then", "with", "a", "an", "the", "to", "it", "its", "in", "into", "on",
    "for", "of", "my", "me", "new", "called", "named", "create", "build", "make", "set", "up",
    "add", "also", "plus", "next", "after", "that", "finally", "i", "want", "need", "should",
    "be", "we", "us", "some", "both", "first", "now",
    # verb forms the rules do not need to tell apart
    "apply", "ensure", "creating", "created", "building", "adding", "setting",
})  # fmt: skip
# Nouns that name an entity kind. Only plurals take lists ("payment and checkout
# services"): a singular taking one would swallow "shop and payment service".
KINDS = {
    "application": "application", "applications": "application",
    "app": "application", "apps": "application",
    "service": "service", "services": "service",
    "environment": "environment", "environments": "environment", "env": "environment",
    "policy": "policy", "policies": "policy",
}  # fmt: skip
VERBS = {"application": "create", "service": "create", "environment": "ensure", "policy": "apply"}
# The verb each kind is asked for with, as these rules read it ("deploy", not the
# capability's "create"): a planner's action may say it so too.
SAID_VERBS = {**VERBS, "deployment": "deploy"}
PLURALS = frozenset({"applications", "apps", "services", "environments", "policies"})
DEPLOY_VERBS = frozenset({"deploy", "deploys", "deployed", "deploying",
                          "redeploy", "redeploys", "redeployed", "redeploying"})
# "the payment service of shop": the application a deployed service goes with.
OF = frozenset({"of", "for"})
# "deploy my application to staging": which one is the graph's part (deploy_targets.py).
APP_NOUNS = frozenset({"application", "app"})
THE_APPLICATION = "<the application>"
# "deploy the two": as many as the request (or the conversation) has; other counts ask.
COUNTS = {"two": 2, "three": 3, "four": 4, "2": 2, "3": 3, "4": 4}
# "create applications b1 and b2 and deploy them": every application named before.
EVERY = frozenset({"them", "both", "all", "each", "these", "those", "everything",
                   "applications", "apps", *COUNTS})
# Known environments, so "deploy to prod" needs no "environment" noun.
ENVIRONMENTS = {
    "production": "production", "prod": "production",
    "staging": "staging", "stage": "staging", "stg": "staging",
    "development": "development", "dev": "development",
}  # fmt: skip
# Words an answer may wrap its names in: "just the shop one", "both of them".
ANSWER_FILLER = frozenset({"of", "one", "ones", "just", "only", "yes"})
# After one of these, a deploy's next name is where it goes, not what it deploys.
PLACES = frozenset({"to", "in", "into", "on"})
ENVIRONMENT_NOUNS = frozenset({"environments", "envs"})
DEPLOYMENT_NOUNS = frozenset({"deployment"})
JOINERS = frozenset({"and", ","})
MARKS = ",;.:!?"  # punctuation kept as clause boundaries; quotes and brackets just separate
# Judged on the original text: lowercasing can turn exotic characters into ASCII ones.
ALLOWED = frozenset(string.ascii_letters + string.digits + string.whitespace + MARKS + "'\"-_()")
_TOKEN_RE = re.compile(r"[a-z0-9_-]+|[" + re.escape(MARKS) + "]")
# The Unicode categories of characters that do not show: format (U+202E),
# control, private use, unassigned.
_UNSEEN = frozenset({"Cf", "Cc", "Co", "Cn"})


class Action(Model):
    """One thing the request asks for."""

    verb: str
    kind: str
    name: str
    qualifiers: dict[str, str] = Field(default_factory=dict)
    # Asked of what exists already ("redeploy"): nothing is made for it.
    existing: bool = False


class ParsedRequest(Model):
    actions: list[Action]
    not_understood: list[str]
    # What the request leaves open that only its sender can say ("which application
    # is deployed to production: b1 or b2?").
    questions: list[str] = []
    # How to say what was not understood so that it is ("to staging and perf
    # environments").
    hints: list[str] = []


@dataclass(eq=False)
class _Mention:
    kind: str
    name: str
    pos: int  # index of the name token: orders actions, finds the nearest application
    group: int = -1  # index of the kind noun, shared by every name in one list
    reference: bool = False  # the target of "deploy X" or "for X", not something to create
    app: str | None = None  # application given explicitly by "for X"
    # The existing deployment a policy is applied to: "... policy to shop in staging".
    guards: dict[str, str] | None = None


@dataclass(eq=False)
class _Token:
    text: str
    tainted: bool = False  # shares a word with a character we never accept
    boundary: bool = False
    used: bool = False
    mention: _Mention | None = None


@dataclass
class _Deploy:
    pos: int
    env: str
    app: _Mention | None
    again: bool = False  # "redeploy": of a deployment there already is
    every: bool = False  # "deploy them": each application the request makes before
    count: int | None = None  # "deploy the two": and that many of them


def _foreign_word(chunk: str) -> bool:
    """A word with letters outside a-z (and nothing worse): a name in another script."""
    bad = [ch for ch in chunk if ch not in ALLOWED]
    return bool(bad) and all(ch.isalpha() for ch in bad)


def spelling_hint(not_understood: list[str], message: str = "") -> str:
    """What to say of words no name may be: names take only a-z, 0-9, - and _, at
    most 63 of them; and of characters one cannot see, which make a word look right
    ("shop" followed by U+202E)."""
    hints = []
    foreign = [w for w in not_understood if _foreign_word(w)]
    # "$(rm -rf /)": said as the characters, which a word alone ('/)') hides.
    odd = sorted({ch for ch in message if ch not in ALLOWED and not ch.isalpha()
                  and unicodedata.category(ch) not in _UNSEEN})
    if foreign or odd:
        hints.append(f"names take letters a-z, digits, - and _: not "
                     f"{', '.join(map(repr, [*foreign, *odd]))}")
    long = [w for w in not_understood if len(w) > MAX_NAME]
    if long:
        hints.append(f"names are at most {MAX_NAME} characters: "
                     + ", ".join(f"{w[:12]!r}… has {len(w)}" for w in long))
    unseen = sorted({ch for ch in message if unicodedata.category(ch) in _UNSEEN})
    if unseen:
        hints.append("the request holds characters one cannot see: "
                     + ", ".join(f"U+{ord(ch):04X}" for ch in unseen))
    return f" ({'; '.join(hints)})" if hints else ""


def _tokenize(text: str) -> list[_Token]:
    """Words and boundary marks; every word of a chunk with a bad character is tainted."""
    tokens: list[_Token] = []
    for chunk in text.split():
        found = _TOKEN_RE.findall(chunk.lower())
        if _foreign_word(chunk):
            # Shown whole: "café" read as "caf" would say the wrong word was the trouble.
            tokens.append(_Token(chunk.lower(), tainted=True))
        elif any(ch not in ALLOWED for ch in chunk):
            words = [w for w in found if w not in MARKS] or [chunk]
            tokens += [_Token(w, tainted=True) for w in words]
        else:
            tokens += [_Token(w, boundary=w in MARKS or w == "then") for w in found]
    return tokens


@dataclass
class _Reader:
    toks: list[_Token]
    mentions: list[_Mention] = field(default_factory=list)
    deploys: list[_Deploy] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    # The application of a follow-up's conversation, for actions the text leaves
    # without one ("also deploy it to staging").
    default_app: str | None = None
    # The conversation's applications: what "deploy them" deploys when the request
    # itself makes none.
    known_apps: Sequence[str] = ()

    def is_word(self, i: int, words: frozenset[str]) -> bool:
        return 0 <= i < len(self.toks) and not self.toks[i].tainted and self.toks[i].text in words

    def free(self, i: int) -> bool:
        """A token no rule has taken yet that can be an entity name."""
        if not 0 <= i < len(self.toks):
            return False
        t = self.toks[i]
        keyword = t.text in FILLER or t.text in KINDS or t.text in DEPLOY_VERBS
        return not (t.used or t.tainted or t.boundary or keyword) and is_valid_name(t.text)

    def add(self, kind: str, j: int, span: range, group: int = -1) -> _Mention:
        name = self.toks[j].text
        if kind == "environment":
            name = ENVIRONMENTS.get(name, name)
        m = _Mention(kind, name, j, group)
        self.mentions.append(m)
        for k in span:
            self.toks[k].used = True
            self.toks[k].mention = self.toks[k].mention or m
        self.toks[j].mention = m
        return m

    def bind_nouns(self, plural: bool) -> None:
        """Kind nouns: 'application shop', 'app called shop', 'payment and cart services'."""
        for i, tok in enumerate(self.toks):
            if tok.tainted or tok.used or tok.text not in KINDS or (tok.text in PLURALS) != plural:
                continue
            j = i + 1
            while self.is_word(j, frozenset({"called", "named"})):
                j += 1
            names: list[int] = []
            step = 2  # forward first ("service payment"), else backward
            if not self.free(j):
                j, step = i - 1, -2
            while self.free(j):
                names.append(j)
                if not (plural and self.is_word(j + step // 2, JOINERS)):
                    break
                j += step
            for j in sorted(names):
                self.add(KINDS[tok.text], j, range(min(i, j), max(i, j) + 1), group=i)

    def bind_deploys(self) -> None:
        """'deploy [X [and Y]] to|in|into|on [the] ENV [and ENV2]', or 'deploy X there'
        after an environment was named; X defaults later."""
        for i, tok in enumerate(self.toks):
            if tok.tainted or tok.text not in DEPLOY_VERBS:
                continue
            apps: list[_Mention | int] = []  # mentions, or indexes of bare names
            env: _Mention | int | None = None
            place, joined, every, j = False, False, False, i + 1
            count: int | None = None
            while j < len(self.toks):
                t, m = self.toks[j], self.toks[j].mention
                if m is not None and m.kind == "environment" and not m.reference:
                    env = m
                    break
                if t.text == "there" and not t.tainted and not joined:
                    env = self.nearest_env(i)
                    t.used = env is not None
                    break
                takes_app = not place and (not apps or joined)
                # "deploy the payment service": its application, read in the graph.
                if m is not None and m.kind in ("application", "service") and takes_app:
                    apps.append(m)
                    joined = False
                    while j < len(self.toks) and self.toks[j].mention is m:
                        j += 1
                    # "the payment service of shop": the application it is deployed with.
                    if m.kind == "service" and self.is_word(j, OF) and self.free(j + 1):
                        m.app = self.toks[j + 1].text
                        self.toks[j].used = self.toks[j + 1].used = True
                        j += 2
                    continue
                if self.free(j) and (place or t.text in ENVIRONMENTS):
                    env = j
                    break
                # "both", "all the applications", "these apps": one or more such words.
                if takes_app and not apps and self.is_word(j, EVERY):
                    t.used = every = True
                    count = COUNTS.get(t.text, count)
                    j += 1
                    continue
                if takes_app and not apps and not t.used and self.is_word(j, APP_NOUNS):
                    t.used = True
                    apps.append(_Mention("application", THE_APPLICATION, j, reference=True))
                    j += 1
                    continue
                if self.free(j) and takes_app:
                    apps.append(j)
                    joined = False
                elif joined:
                    break  # "and" or "," not followed by another name: a new clause
                elif apps and not place and not t.tainted and t.text in JOINERS:
                    joined = True  # "deploy shop and blog to ...": one more name
                elif t.tainted or t.boundary or t.used or t.text not in FILLER:
                    break  # anything else ends the clause without a destination
                place = place or t.text in PLACES
                j += 1
            if env is None:
                continue
            if isinstance(env, int):
                env = self.add("environment", env, range(env, env + 1))
            envs = [env, *self.more_envs(env)]
            for e in envs:
                e.reference = True
            targets: list[_Mention | None] = []
            for app in apps:
                if isinstance(app, int):
                    app = self.add("application", app, range(app, app + 1))
                app.reference = True
                targets.append(app)
            tok.used = True
            again = tok.text.startswith("redeploy")
            self.deploys += [_Deploy(i, e.name, app, again, every, count)
                             for app in targets or [None] for e in envs]
            while (clause := self.gapped(envs[-1])) is not None:
                app, first = clause
                envs = [first, *self.more_envs(first)]
                for e in envs:
                    e.reference = True
                self.deploys += [_Deploy(app.pos, e.name, app, again) for e in envs]

    def gapped(self, after: _Mention) -> tuple[_Mention, _Mention] | None:
        """'deploy b1 to staging and b2 to perf': one more deploy clause, its verb
        left out, right after environment `after`; its application and environment."""
        k = max(i for i, t in enumerate(self.toks) if t.mention is after) + 1
        app, place = k + 1, k + 2
        if not (self.is_word(k, JOINERS) and self.free(app) and self.is_word(place, PLACES)) \
                or self.toks[app].text in ENVIRONMENTS:
            return None
        at = self.skip(place + 1, frozenset({"the"}))
        named = self.toks[at].mention if at < len(self.toks) else None
        if named is None and not self.free(at):
            return None
        if named is not None and (named.kind != "environment" or named.reference):
            return None
        env = named or self.add("environment", at, range(at, at + 1))
        found = self.add("application", app, range(k, at))
        found.reference = True
        return found, env

    def made_apps(self, before: int) -> list[_Mention]:
        """The applications the request makes before position `before`, once each."""
        made: dict[str, _Mention] = {}
        for m in self.mentions:
            if m.kind == "application" and not m.reference and m.pos < before:
                made.setdefault(m.name, m)
        return list(made.values())

    def more_envs(self, first: _Mention) -> list[_Mention]:
        """'... to staging and production': further environments, joined on. A
        name of no known environment is one only in a list closed by the noun ("to
        staging and perf environments"): "deploy shop to staging and blog" may mean
        blog is deployed too."""
        k = max(i for i, t in enumerate(self.toks) if t.mention is first) + 1
        names: list[int] = []
        while self.is_word(k, JOINERS) and self.free(k + 1):
            names.append(k + 1)
            k += 2
        closed = bool(names) and self.is_word(k, ENVIRONMENT_NOUNS)
        found: list[_Mention] = []
        for j in names:
            if self.toks[j].text not in ENVIRONMENTS and not closed:
                name = self.toks[j].text
                if self.last_of_clause(j):
                    self.hints.append(f"if {name} is a new environment, say so: to "
                                      f"{first.name} and {name} environments")
                break
            found.append(self.add("environment", j, range(j - 1, j + 1)))
        if closed and len(found) == len(names):
            self.toks[k].used = True
        return found

    def last_of_clause(self, j: int) -> bool:
        """Nothing follows token `j` in its clause ("... and perf, then", "... and
        perf with monitoring policy")."""
        k = j + 1
        return k >= len(self.toks) or self.toks[k].boundary or self.is_word(
            k, frozenset({"with", "and"}))

    def nearest_env(self, pos: int) -> _Mention | None:
        """What 'there' points back to: the last environment named before it."""
        before = [m for m in self.mentions if m.kind == "environment" and m.pos < pos]
        return max(before, key=lambda m: m.pos, default=None)

    def bind_for(self) -> None:
        """'payment service for shop': the application a service or policy belongs to.
        A service may also be added 'to' its application: 'add a payment service to
        shop' (a deploy's 'to' was taken by its clause already)."""
        for i, tok in enumerate(self.toks):
            before = self.toks[i - 1].mention if i > 0 else None
            to_owner = tok.text == "to" and before is not None and before.kind == "service"
            if tok.tainted or not (tok.text == "for" or to_owner):
                continue
            j = i + 1
            while self.is_word(j, frozenset({"the", "my"})):
                j += 1
            target = self.toks[j].mention if j < len(self.toks) else None
            if self.free(j) and self.toks[j].text not in ENVIRONMENTS:
                target = self.add("application", j, range(j, j + 1))
            if target is None or target.kind != "application":
                continue
            target.reference = True
            for m in self.mentions:
                if before is not None and m.group == before.group >= 0:
                    m.app = target.name

    def bind_policy_targets(self) -> None:
        """'apply monitoring policy to shop in staging' (or 'to the shop deployment on
        prod', 'to deployment shop-staging', 'to staging' when the application is
        known): the deployment a policy guards, which the request does not make."""
        for i, tok in enumerate(self.toks):
            before = self.toks[i - 1].mention if i > 0 else None
            if tok.tainted or tok.used or tok.text not in ("to", "on") or before is None \
                    or before.kind != "policy":
                continue
            found = self.deployment_named(i + 1)
            if found is None:
                continue
            guards, end = found
            for k in range(i, end):
                self.toks[k].used = True
            for m in self.mentions:
                if m is before or m.group == before.group >= 0:
                    m.guards = guards

    def deployment_named(self, j: int) -> tuple[dict[str, str], int] | None:
        """The deployment named from token `j` on, and the index after its words."""
        j = self.skip(j, frozenset({"the", "my"}))
        noun = self.is_word(j, DEPLOYMENT_NOUNS)
        j = self.skip(j, DEPLOYMENT_NOUNS)
        if not self.free(j):
            return None
        name, j = self.toks[j].text, j + 1
        noun = noun or self.is_word(j, DEPLOYMENT_NOUNS)
        j = self.skip(j, DEPLOYMENT_NOUNS)
        env_at = self.skip(j + 1, frozenset({"the"})) if self.is_word(j, PLACES) else -1
        named = self.toks[env_at].mention if 0 <= env_at < len(self.toks) else None
        if named is not None and named.kind == "environment":
            named.reference = True  # "in the staging environment": where it is, not made
            end = max(k for k, t in enumerate(self.toks) if t.mention is named) + 1
            return _deployment_of(name, named.name), end
        if self.free(env_at):
            text = self.toks[env_at].text
            return _deployment_of(name, ENVIRONMENTS.get(text, text)), env_at + 1
        if name in ENVIRONMENTS and not noun:  # "to staging": the known application's
            app = self.nearest_app(j)
            return (_deployment_of(app, ENVIRONMENTS[name]), j) if app else None
        return {"deployment": name}, j

    def skip(self, j: int, words: frozenset[str]) -> int:
        while self.is_word(j, words):
            j += 1
        return j

    def nearest_app(self, pos: int) -> str | None:
        apps = [m for m in self.mentions if m.kind == "application"]
        best = min(apps, key=lambda m: (abs(m.pos - pos), m.pos), default=None)
        return best.name if best else self.default_app

    def targeted(self) -> list[_Deploy]:
        """The deploys, "deploy them" made one per application the request makes
        before it (in a follow-up making none, the conversation's); a deploy naming
        none after several are made is asked about."""
        found: list[_Deploy] = []
        for d in self.deploys:
            made = self.made_apps(before=d.pos)
            every = made or [_Mention("application", name, d.pos, reference=True)
                             for name in self.known_apps]
            if d.every and d.count is not None and len(every) != d.count:
                names = " and ".join(m.name for m in every) or "none"
                self.questions.append(
                    f"which applications are deployed to {d.env}? {d.count} were asked "
                    f"for, and {len(every)} are known ({names}): name them (deploy b1 "
                    f"and b2 to {d.env})")
            if d.every and every:
                found += [_Deploy(d.pos, d.env, m, d.again) for m in every]
                continue
            if d.app is None and not d.every and len(made) > 1:
                self.questions.append(
                    f"which application is deployed to {d.env}: "
                    f"{' or '.join(m.name for m in made)}? (deploy {made[0].name} to "
                    f"{d.env}, or deploy them to {d.env} for each)")
            found.append(d)
        return found

    def actions(self) -> list[Action]:
        deploys: list[tuple[int, Action]] = []
        for d in self.targeted():
            app = d.app.name if d.app else self.nearest_app(d.pos)
            of = d.app.kind if d.app else "application"
            quals = {of: app, "environment": d.env} if app else {"environment": d.env}
            if d.app is not None and d.app.kind == "service" and d.app.app:
                quals["application"] = d.app.app
            name = f"{app}-{d.env}" if app else d.env
            action = Action(verb=SAID_VERBS["deployment"], kind="deployment", name=name,
                            qualifiers=quals, existing=d.again)
            deploys.append((d.pos, action))
        found = list(deploys)
        for m in self.mentions:
            if m.reference:  # named only as a target; whoever owns it creates it
                continue
            app = m.app or self.nearest_app(m.pos)
            quals = {"application": app} if app and m.kind in ("service", "policy") else {}
            if m.kind == "policy" and m.guards is not None:
                quals = dict(m.guards)
            elif m.kind == "policy" and deploys:
                # Policies guard a deployment: the one of their clause ("deploy to
                # production with a security policy, deploy to staging": the nearest
                # put it on staging), else the nearest, even if named later; each of
                # one deploy's ("deploy shop to staging and production with monitoring
                # policy": both are guarded).
                own = [pos for pos, _ in deploys if pos < m.pos and not any(
                    t.boundary for t in self.toks[pos:m.pos])]
                at = max(own) if own else min(
                    deploys, key=lambda pd: (abs(pd[0] - m.pos), pd[0]))[0]
                found += [(m.pos, Action(verb=VERBS[m.kind], kind=m.kind, name=m.name,
                                         qualifiers={"deployment": d.name, **d.qualifiers}))
                          for pos, d in deploys if pos == at]
                continue
            action = Action(verb=VERBS[m.kind], kind=m.kind, name=m.name, qualifiers=quals)
            found.append((m.pos, action))
        result: list[Action] = []
        for _, action in sorted(found, key=lambda pa: pa[0]):  # stable: text order
            if action not in result:
                result.append(action)
        return result


def _deployment_of(app: str, env: str) -> dict[str, str]:
    return {"deployment": f"{app}-{env}", "application": app, "environment": env}


def check_names(actions: Sequence[Action]) -> None:
    """Names made of others ("<application>-<environment>") may outgrow what a
    name may be, though each part is a name: refused saying so (the entities'
    own check would fail the planning with a validation error, on every try)."""
    for action in actions:
        for kind, name in ((action.kind, action.name), *action.qualifiers.items()):
            if len(name) > MAX_NAME:
                raise CannotPlan(
                    f"the {kind} would be named {name!r}, {len(name)} characters, and "
                    f"names take at most {MAX_NAME}: give the application or the "
                    "environment a shorter name", [], [])


def parse_request(
    text: str, default_app: str | None = None, known_apps: Sequence[str] = ()
) -> ParsedRequest:
    """`default_app`: the application meant where the text names none;
    `known_apps`: the conversation's applications, which "them" may mean."""
    reader = _read(text, default_app, known_apps)
    leftover = [
        t.text
        for t in reader.toks
        if not t.used and not t.boundary and (t.tainted or t.text not in FILLER)
    ]
    return ParsedRequest(actions=reader.actions(), not_understood=leftover,
                         questions=reader.questions, hints=reader.hints)


def _read(text: str, default_app: str | None = None, known_apps: Sequence[str] = ()) -> _Reader:
    reader = _Reader(_tokenize(text), default_app=default_app, known_apps=known_apps)
    # Order matters: deploys take their own names before plural lists could reach back
    # across a comma ("deploy shop to staging, cart and payment services").
    reader.bind_nouns(plural=False)
    reader.bind_deploys()
    reader.bind_nouns(plural=True)
    reader.bind_policy_targets()
    reader.bind_for()
    return reader


def answer_names(message: str) -> list[str] | None:
    """The names an answer to "which application?" gives ("b1 and b2", "the shop
    one"), `["them"]` for "both", "all of them" or "the two"; None when it says
    anything else."""
    names: list[str] = []
    for t in _tokenize(message):
        if t.tainted:
            return None
        if t.text in EVERY:  # "both" is filler elsewhere
            names.append("them")
        elif t.boundary or t.text in FILLER or t.text in ANSWER_FILLER:
            continue
        elif t.text in KINDS or t.text in DEPLOY_VERBS or not is_valid_name(t.text):
            return None
        else:
            names.append(t.text)
    if "them" in names:
        return ["them"] if set(names) == {"them"} else None
    return names or None


def naming_deploys(text: str, names: Sequence[str]) -> str | None:
    """The request with each deploy that names no application, or "my application",
    made to name `names` ("deploy to production" -> "deploy b1 and b2 to
    production"); None when it has no such deploy."""
    reader = _read(text)
    after_verb = {d.pos for d in reader.deploys if d.app is None and not d.every}
    instead = {d.app.pos for d in reader.deploys
               if d.app is not None and d.app.name == THE_APPLICATION}
    if not after_verb and not instead:
        return None
    said = " and ".join(names)
    words: list[str] = []
    for i, t in enumerate(reader.toks):
        if t.text in MARKS and words:
            words[-1] += t.text
            continue
        words.append(said if i in instead else t.text)
        if i in after_verb:
            words.append(said)
    return " ".join(words)
