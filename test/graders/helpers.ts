/** Small builders shared by the grader tests. */
import { type Grader, type GraderContext, type GraderResult, runGrader, sampleFromText } from "../../graders/index.ts";

export function grade(
  grader: Grader,
  output: string,
  item: Record<string, unknown> = {},
  ctx: GraderContext = {},
): Promise<GraderResult> {
  return runGrader(grader, { sample: sampleFromText(output), item }, ctx);
}

/** Every OpenAI error flag false / null, for asserting the whole `errors` object. */
export const NO_ERRORS = {
  formula_parse_error: false,
  sample_parse_error: false,
  truncated_observation_error: false,
  unresponsive_reward_error: false,
  invalid_variable_error: false,
  other_error: false,
  python_grader_server_error: false,
  python_grader_server_error_type: null,
  python_grader_runtime_error: false,
  python_grader_runtime_error_details: null,
  model_grader_server_error: false,
  model_grader_refusal_error: false,
  model_grader_parse_error: false,
  model_grader_server_error_details: null,
};
