#!/usr/bin/env python3
"""
Golden outputs for the studio's eval engine from Python itself — the language lm-eval is written
in — so the JavaScript translations of lm-eval's regexes, filters, metric and prompt assembly
are checked against `re`, `jinja2` and `numpy`, not against themselves.

It re-implements, from lm-evaluation-harness's source (commits named in src/engine/eval/):
- RegexFilter + take_first (lm_eval/filters/extraction.py): re.findall, group_select, the first
  non-empty group of a tuple, .strip(), fallback "[invalid]";
- exact_match_hf_evaluate (lm_eval/api/metrics.py): re.sub of each regexes_to_ignore, lower();
- multiple-choice acc / acc_norm (lm_eval/api/task.py): np.argmax(lls), np.argmax(lls / len(choice));
- fewshot_context + ContextSampler.get_context / get_chat_context (lm_eval/api/task.py,
  samplers.py) with templates rendered by jinja2 with keep_trailing_newline=True (lm_eval/utils.py),
  the task yamls' doc_to_text strings, and the few-shot data the studio ships
  (src/engine/eval/data/, read as data only).

It writes test-support/golden/lm-eval-scoring.json:
- "regex": ugly responses with the extracted answers and verdicts per task family;
- "mc": log-likelihood cases (ties, NaN, length normalisation) with acc / acc_norm;
- "prompts": for each benchmark file in ../shared/benchmarks and each condition, one sha256
  over the sha256s of the item prompts (benchmark items themselves are never written).

Run by hand from the repository root, where python3 with jinja2 and numpy is installed:
    python3 scripts/golden/lm-eval-scoring.py
The product never needs Python.
"""
import hashlib
import json
import os
import re

import jinja2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "..", "shared", "benchmarks")
DATA = os.path.join(ROOT, "src", "engine", "eval", "data")
THINK = "Let's think step by step."

ENV = jinja2.Environment(loader=jinja2.BaseLoader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def render(template, doc):
    return ENV.from_string(template).render(**doc)


# ---- filters and metric, as lm-eval's Python does them -------------------------------------
def regex_filter(resp, pattern, group_select=0, fallback="[invalid]"):
    match = re.compile(pattern).findall(resp)
    if match:
        match = match[group_select]
        if isinstance(match, tuple):
            match = [m for m in match if m][0]
        return match.strip()
    return fallback


def exact_match(pred, ref, regexes_to_ignore=None, ignore_case=False):
    p, r = pred, ref
    for s in regexes_to_ignore or []:
        p = re.sub(s, "", p)
        r = re.sub(s, "", r)
    p, r = np.asarray([p]), np.asarray([r])
    if ignore_case:
        p, r = np.char.lower(p), np.char.lower(r)
    return int(np.mean(p == r))


GSM_STRICT = r"The answer is (\-?[0-9\.\,]+)."
GSM_FLEX = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"
GSM_IGNORE = [",", "\\$", "(?s).*#### ", "\\.$"]
GSM_ZS_IGNORE = GSM_IGNORE + ["\\.0+$"]
BBH_ANSWER = r"(?<=the answer is )(.*)(?=.)"

GSM_RESPONSES = [
    "The answer is 18.", "The answer is 18", "The answer is $18.", "The answer is 1,000.", "The answer is 1,000,000.50.",
    "The answer is -5.", "The Answer is 18.", "the answer is 18.", "The answer is 18.\n\nQ:", "The answer is 18\nmore",
    "She makes 9 * 2 = $18 every day. The answer is 18.", "#### 18", "First 3, then 12, finally 45.", "no numbers here",
    "", "7", "x 7 y", "Total: $1,234.56.", "18.00", "The answer is 18.00.", "answer: .5", "The answer is .5.",
    "The answer is 42\u2028and more", "The answer is 42\r\nnext", "The answer is 42\n", "3.\n", "3..", "-$5.",
    "The answer is 5. The answer is 6.", "10 apples and 20 pears", "The answer is 12\u00a0", "1.2.3", "the total is -.",
]
GSM_REFS = ["18", "1000", "-5", "12", "5", "45", "7", "1234.56", "Janet sells 9.\n#### 18"]

BBH_RESPONSES = [
    "So the answer is (B).", "So the answer is (B)", "So the answer is (B)\nQ", "so the answer is yes.",
    "So The Answer is (B).", "So the answer is .", "So the answer is ", "the answer is X", "the answer is XY",
    "the answer is Yes. Also the answer is No.", "no answer", "", "So the answer is False.", "the answer is ] } ].",
    "So the answer is 😀.", "So the answer is 😀😀", "So the answer is \u00e9.\n", "the answer is  (C) .",
    "the answer is (A).\r\n", "the answer is \u2028x.",
]
BBH_REFS = ["(B)", "yes", "Yes", "False", "] } ]", "(C)", "😀", "X"]


def regex_cases():
    cases = []
    for r in GSM_RESPONSES:
        strict = regex_filter(r, GSM_STRICT)
        flex = regex_filter(r, GSM_FLEX, group_select=-1)
        for ref in GSM_REFS:
            cases.append({
                "family": "gsm8k", "response": r, "reference": ref,
                "extracted": {"strict-match": strict, "flexible-extract": flex},
                "cot": {"strict-match": exact_match(strict, ref, GSM_IGNORE, True),
                        "flexible-extract": exact_match(flex, ref, GSM_IGNORE, True)},
                "zeroshot": {"strict-match": exact_match(strict, ref, GSM_ZS_IGNORE, True),
                             "flexible-extract": exact_match(flex, ref, GSM_ZS_IGNORE, True)},
            })
    for r in BBH_RESPONSES:
        got = regex_filter(r, BBH_ANSWER)
        for ref in BBH_REFS:
            cases.append({"family": "bbh", "response": r, "reference": ref,
                          "extracted": {"get-answer": got}, "verdict": exact_match(got, ref)})
    return cases


def mc_cases():
    choices = ["a", "bbb", "cc", "dddd"]
    lls = [
        [-1.0, -2.0, -3.0, -4.0], [-4.0, -3.0, -2.0, -1.0], [-2.0, -2.0, -2.0, -2.0], [-1.0, -3.0, -2.0, -1.0],
        [-3.0, -3.0, -9.0, -4.0], [float("nan"), -1.0, -1.0, -1.0], [-8.0, -6.0, -2.0, -8.0], [0.0, 0.0, 0.0, 0.0],
        [-1.5, -4.5, -3.0, -6.0],
    ]
    out = []
    for choice_set in (choices, [" x", "yy", "z\u00e9", "\U0001F600\U0001F600"]):
        for ll in lls:
            arr = np.array(ll)
            completion_len = np.array([float(len(c)) for c in choice_set])
            with np.errstate(invalid="ignore", divide="ignore"):
                pred, pred_norm = int(np.argmax(arr)), int(np.argmax(arr / completion_len))
            out.append({"choices": choice_set, "loglikelihoods": [None if np.isnan(x) else x for x in ll],
                        "acc": 1 if pred == 3 else 0, "acc_norm": 1 if pred_norm == 3 else 0, "pred": pred, "pred_norm": pred_norm})
    return out


# ---- prompts, as lm-eval's fewshot_context builds them --------------------------------------
def fewshot_context(doc, description, doc_to_text, samples, sample_text, target_delimiter, fewshot_delimiter,
                    system_instruction, chat):
    description = render(description, doc) if description else ""
    if system_instruction is not None and description:
        system_prompt = f"{system_instruction}{fewshot_delimiter}{description}"
    elif system_instruction is not None:
        system_prompt = system_instruction
    elif description:
        system_prompt = description
    else:
        system_prompt = ""
    context = ""
    for s in samples:
        context += render(sample_text, s)
        target = s["target"]
        if target != "":
            context += target_delimiter + target + fewshot_delimiter
    question = render(doc_to_text, doc)
    if not chat:
        return system_prompt + context + question
    messages = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    if samples:
        messages.append({"role": "user", "content": context})
    if not messages or messages[-1]["role"] == "system":
        messages.append({"role": "user", "content": question})
    else:
        messages[-1]["content"] += question
    return messages


def prompt_hash(p):
    if isinstance(p, str):
        text = "text\x00" + p
    else:
        text = "chat\x00" + "".join(m["role"] + "\x00" + m["content"] + "\x01" for m in p)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def prompt_sets():
    gsm = read_jsonl(os.path.join(BENCH, "gsm8k", "test_first200.jsonl"))
    gsm_shots = json.load(open(os.path.join(DATA, "gsm8k-cot-fewshot.json")))["samples"]
    sciq = read_jsonl(os.path.join(BENCH, "sciq", "test_first200.jsonl"))
    he = read_jsonl(os.path.join(BENCH, "humaneval", "HumanEval.jsonl"))
    sets = {
        "gsm8k_cot": (gsm, dict(description="", doc_to_text="Q: {{question}}\nA:", samples=gsm_shots,
                                sample_text="Q: {{question}}\nA:", target_delimiter=" ", fewshot_delimiter="\n\n")),
        "gsm8k_cot_zeroshot": (gsm, dict(description="", doc_to_text="Q: {{question}}\nA: Let's think step by step.", samples=[],
                                         sample_text="", target_delimiter=" ", fewshot_delimiter="\n\n")),
        "sciq": (sciq, dict(description="", doc_to_text="{{support.lstrip()}}\nQuestion: {{question}}\nAnswer:", samples=[],
                            sample_text="", target_delimiter=" ", fewshot_delimiter="\n\n")),
        "humaneval": (he, dict(description="", doc_to_text="{{prompt}}", samples=[], sample_text="", target_delimiter=" ",
                               fewshot_delimiter="\n\n")),
    }
    for f in sorted(os.listdir(os.path.join(BENCH, "bbh"))):
        if not f.endswith(".json"):
            continue
        sub = f[:-5]
        docs = json.load(open(os.path.join(BENCH, "bbh", f)))["examples"]
        data = json.load(open(os.path.join(DATA, "bbh-cot-fewshot", f)))
        text = "Q: {{input}}\nA: Let's think step by step.\n"
        sets["bbh_cot_fewshot_" + sub] = (docs, dict(description=data["description"], doc_to_text=text, samples=data["samples"],
                                                     sample_text=text, target_delimiter="", fewshot_delimiter="\n\n"))
    out = {}
    for task, (docs, spec) in sets.items():
        out[task] = {"n": len(docs)}
        for mode in ("plain", "think"):
            for chat in (False, True):
                instr = THINK if mode == "think" else None
                hashes = "".join(prompt_hash(fewshot_context(d, system_instruction=instr, chat=chat, **spec)) for d in docs)
                out[task][f"{mode},{'chat' if chat else 'text'}"] = hashlib.sha256(hashes.encode()).hexdigest()
        if task == "sciq":
            # continuations: " " + choice without the chat template, the choice alone with it
            conts = "".join(prompt_hash(d_ + c) for d in docs for c in [d["distractor1"], d["distractor2"], d["distractor3"], d["correct_answer"]] for d_ in [" "])
            out[task]["continuations,text"] = hashlib.sha256(conts.encode()).hexdigest()
    return out


def main():
    golden = {"regex": regex_cases(), "mc": mc_cases(), "prompts": prompt_sets()}
    path = os.path.join(ROOT, "test-support", "golden", "lm-eval-scoring.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {path}: {len(golden['regex'])} regex cases, {len(golden['mc'])} multiple-choice cases, "
          f"{len(golden['prompts'])} prompt sets")


if __name__ == "__main__":
    main()
