/// Splits SQL scripts into statements the way the `mariadb`/`mysql` command-line client does.
///
/// Statements end at the current delimiter (`;` at first) outside quotes (`'…'`, `"…"`, `` `…` ``, with
/// backslash escapes and doubled quotes) and comments (`-- …`, `# …`, `/* … */`). A line
/// `DELIMITER <token>` changes the delimiter, so a stored procedure whose body holds semicolons is written:
///
/// ```sql
/// DELIMITER //
/// CREATE PROCEDURE p() BEGIN UPDATE t SET n = n + 1; SELECT n FROM t; END //
/// DELIMITER ;
/// ```
public enum MySQLScript {
    /// The statements of `script`, trimmed, without delimiters and without empty statements.
    /// - Parameter script: SQL text.
    public static func split(_ script: String) -> [String] {
        var statements: [String] = []
        var delimiter: [Character] = [";"]
        var current: [Character] = []
        let chars = Array(script)
        var i = 0
        var atLineStart = true

        func flush() {
            let s = String(current).trimmingCharactersOMS()
            if !s.isEmpty { statements.append(s) }
            current.removeAll(keepingCapacity: true)
        }

        while i < chars.count {
            let c = chars[i]
            if atLineStart {
                // DELIMITER directive: only at the start of a line, outside any statement text.
                var j = i
                while j < chars.count, chars[j] == " " || chars[j] == "\t" { j += 1 }
                let word = "DELIMITER"
                if j + word.count < chars.count,
                    String(chars[j..<(j + word.count)]).uppercased() == word,
                    chars[j + word.count] == " " || chars[j + word.count] == "\t",
                    String(current).trimmingCharactersOMS().isEmpty
                {
                    var k = j + word.count
                    while k < chars.count, chars[k] == " " || chars[k] == "\t" { k += 1 }
                    var token: [Character] = []
                    while k < chars.count, chars[k] != "\n", chars[k] != "\r", chars[k] != " ", chars[k] != "\t" {
                        token.append(chars[k])
                        k += 1
                    }
                    while k < chars.count, chars[k] != "\n" { k += 1 }
                    if !token.isEmpty { delimiter = token }
                    current.removeAll(keepingCapacity: true)
                    i = k + 1
                    atLineStart = true
                    continue
                }
            }
            atLineStart = false
            switch c {
            case "'", "\"", "`":
                current.append(c)
                i += 1
                while i < chars.count {
                    let d = chars[i]
                    current.append(d)
                    i += 1
                    if d == "\\" && c != "`" && i < chars.count {
                        current.append(chars[i])
                        i += 1
                    } else if d == c {
                        if i < chars.count && chars[i] == c {
                            current.append(chars[i])
                            i += 1
                        } else {
                            break
                        }
                    }
                }
                continue
            case "-"
            where i + 1 < chars.count && chars[i + 1] == "-"
                && (i + 2 >= chars.count || chars[i + 2] == " " || chars[i + 2] == "\t" || chars[i + 2] == "\n"),
                "#":
                while i < chars.count && chars[i] != "\n" { i += 1 }
                continue
            case "/" where i + 1 < chars.count && chars[i + 1] == "*":
                let start = i
                i += 2
                while i + 1 < chars.count && !(chars[i] == "*" && chars[i + 1] == "/") { i += 1 }
                i = min(i + 2, chars.count)
                // Keep executable comments (/*! … */) — they are SQL for MySQL/MariaDB.
                if start + 2 < chars.count && chars[start + 2] == "!" { current.append(contentsOf: chars[start..<i]) }
                continue
            default:
                break
            }
            if c == "\n" { atLineStart = true }
            if c == delimiter[0] && i + delimiter.count <= chars.count
                && Array(chars[i..<(i + delimiter.count)]) == delimiter
            {
                flush()
                i += delimiter.count
                continue
            }
            current.append(c)
            i += 1
        }
        flush()
        return statements
    }
}

extension String {
    fileprivate func trimmingCharactersOMS() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
