// @greentic/revision-machine: lifecycle and traffic rules as pure functions (no I/O).

export type { Decision, LifecycleAction, Refusal, RefusalCode, TransitionContext } from './lifecycle';
export { decideTransition, formatPercent, LIFECYCLE, LIFECYCLE_ACTIONS, nextStates } from './lifecycle';
export type { ParseResult, SplitCheck, SplitRefusal, SplitRefusalCode, WeightChange } from './traffic';
export {
  checkSplit,
  diffSplits,
  formatSplit,
  normalizeSplit,
  parseTrafficArgs,
  previousSplit,
  sameSplit,
  weightOf,
} from './traffic';
