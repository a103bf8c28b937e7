import { useEffect, useState } from 'react';
import { fetchDemoFacts, type DemoFacts } from '../session/slot-loader.ts';
import { useStudio } from '../store.ts';

const percent = (x: number) => `${Math.round(x * 100)}%`;

/**
 * One line beside "Load the demo trio" saying what the demo is. The numbers come from the report
 * the demo's generator measured (demo.json), so they cannot drift from the published weights.
 */
export function DemoNote() {
  // The playground starts with this prompt, so "try it" means pressing Generate.
  const prompt = useStudio.getInitialState().playground.prompt;
  const [facts, setFacts] = useState<DemoFacts | undefined>();
  useEffect(() => {
    let live = true;
    void fetchDemoFacts(prompt).then((f) => live && setFacts(f));
    return () => {
      live = false;
    };
  }, [prompt]);
  const lift =
    facts?.accuracyAt0 !== undefined && facts.accuracyAt1 !== undefined
      ? ` With α·v added the target picks the right digit for ${percent(facts.accuracyAt0)} of the sums at α = 0 and ${percent(facts.accuracyAt1)} at α = 1.`
      : '';
  return (
    <p className="demo-note muted" data-testid="demo-note">
      Demo trio: tiny models where only the RL donor learnt {facts ? facts.task : '"a+b=" → (a + b) mod 10'}.{lift} Load it, then press Generate
      with the prompt <code>{prompt}</code>
      {facts?.answer !== undefined ? ` (answer ${facts.answer})` : ''}.
    </p>
  );
}
