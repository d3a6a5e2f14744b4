/** A rubric as the judge receives it in its params: the policy language's own rubric schema and revision. */
export { RubricSchema as JudgeRubricSchema, rubricRevision, type Rubric as JudgeRubric } from '../rubric.js';
