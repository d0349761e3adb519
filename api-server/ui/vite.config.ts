import { defineConfig } from "vite";

// Relative asset URLs: the server injects <base href="{web_root}/"> into index.html,
// so the same build works under any server.web_root.
export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
    sourcemap: false,
  },
});
