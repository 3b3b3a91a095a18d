// The tensor the user picked in the graph view, read by the range/histogram view.
import { create } from 'zustand';

export const useTensorSelection = create<{ modelId: string | null; tensor: string | null; pick: (modelId: string, tensor: string) => void }>()((set) => ({
  modelId: null,
  tensor: null,
  pick: (modelId, tensor) => set({ modelId, tensor }),
}));
