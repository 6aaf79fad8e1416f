package docs

import (
	"path"
	"strings"
)

// languages maps file extensions (and a few whole names) to the language
// names the editor's language-data knows.
var languages = map[string]string{
	".go": "go", ".mod": "go", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
	".jsx": "jsx", ".ts": "typescript", ".tsx": "tsx", ".py": "python", ".rs": "rust",
	".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".hpp": "cpp", ".java": "java",
	".kt": "kotlin", ".swift": "swift", ".rb": "ruby", ".php": "php", ".cs": "csharp",
	".html": "html", ".htm": "html", ".css": "css", ".scss": "scss", ".json": "json",
	".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".md": "markdown", ".sql": "sql",
	".sh": "shell", ".bash": "shell", ".xml": "xml", ".svg": "xml", ".lua": "lua",
	".hs": "haskell", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".scala": "scala",
	".r": "r", ".dart": "dart", ".vue": "vue", ".svelte": "svelte", ".proto": "protobuf",
	"dockerfile": "dockerfile", "makefile": "makefile",
}

// LanguageOf guesses a document's language from its file name; "plaintext"
// when unknown.
func LanguageOf(name string) string {
	base := strings.ToLower(path.Base(name))
	if l, ok := languages[base]; ok {
		return l
	}
	if l, ok := languages[path.Ext(base)]; ok {
		return l
	}
	return "plaintext"
}
