import { useState } from 'react';
import type { OnnxExportDtype } from '../../engine/export/onnx-folder.ts';
import { saveOnnxExport } from '../session/onnx-export-session.ts';

/**
 * "Export ONNX…" beside the merge panel's other exports: θ(α) as a folder transformers.js loads
 * (onnx/model.onnx + model.onnx_data, config, tokenizer, generation config), fp32 or fp16. The job
 * itself (progress, Cancel, the files) is the merge panel's (session/onnx-export-session.ts).
 */
export function OnnxExport({ disabled }: { disabled: boolean }) {
  const [dtype, setDtype] = useState<OnnxExportDtype>('fp32');
  return (
    <span className="onnx-export" title="θ(α) as an ONNX model for transformers.js: onnx/model.onnx with its weights as external data, config.json, tokenizer and generation config">
      <button disabled={disabled} onClick={() => void saveOnnxExport(dtype)}>
        Export ONNX…
      </button>{' '}
      <select aria-label="ONNX dtype" value={dtype} disabled={disabled} onChange={(e) => setDtype(e.target.value as OnnxExportDtype)}>
        <option value="fp32">fp32</option>
        <option value="fp16">fp16</option>
      </select>
    </span>
  );
}
