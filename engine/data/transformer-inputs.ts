// The inputs of transformer exports as users have them (Hugging Face Optimum / transformers.js
// decoders, onnxruntime-genai models): which one holds the token ids, and which others a decoder takes
// beside them that follow from the tokens (pipeline/validate-inputs.ts derives them). A decoder fed
// those and token windows is still a language model fed token windows: its perplexity is measurable.

/** Input names that hold token ids, in the order they are looked for. */
export const TOKEN_INPUT_NAMES: readonly string[] = ['input_ids', 'inputs_ids', 'tokens'];

/** A KV-cache input: past_key_values.<i>.key, past_key.<i>, <layer>.past_value, cache_... */
export const PAST_CACHE_INPUT = /^past_key_values?\.|^past_|\.past_|^cache_/;

const DECODER_AUXILIARY = new Set(['attention_mask', 'position_ids', 'seqlens_k', 'total_sequence_length', 'use_cache_branch']);

/**
 * True for a decoder's input that is derived from the token ids (mask, positions, cache, GQA lengths,
 * the merged decoder's switch). token_type_ids is not one: it marks an encoder, whose outputs are no
 * next-token prediction.
 */
export function isDecoderAuxiliaryInput(name: string): boolean {
  const n = name.toLowerCase();
  return DECODER_AUXILIARY.has(n) || PAST_CACHE_INPUT.test(n);
}
