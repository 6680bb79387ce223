// The tag browser panel on the offscreen platform: load a file, search by keyword, tag and value,
// see nested matches with their ancestors, survive bad files and quick successions of files.

#include "ui/TagBrowser.h"

#include <QAbstractItemModel>
#include <QApplication>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QSignalSpy>
#include <QTest>
#include <QThreadPool>
#include <QTreeView>

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

namespace fs = std::filesystem;
using namespace radiolens;

namespace {

/// Writes explicit VR little endian DICOM by hand (the ui tests do not see DCMTK). Elements must
/// be added in ascending tag order.
class DicomBytes {
public:
    void element(std::uint16_t group, std::uint16_t element, const char* vr, std::string value) {
        if (value.size() % 2 == 1) {
            value += std::string(vr) == "UI" ? '\0' : ' ';
        }
        header(group, element, vr, std::uint32_t(value.size()));
        m_bytes += value;
    }
    void us(std::uint16_t group, std::uint16_t element, std::uint16_t value) {
        header(group, element, "US", 2);
        u16(value);
    }
    void ul(std::uint16_t group, std::uint16_t element, std::uint32_t value) {
        header(group, element, "UL", 4);
        u32(value);
    }
    void beginSequence(std::uint16_t group, std::uint16_t element) {
        header(group, element, "SQ", 0xFFFFFFFF);
    }
    void beginItem() {
        u16(0xFFFE);
        u16(0xE000);
        u32(0xFFFFFFFF);
    }
    void endItem() {
        u16(0xFFFE);
        u16(0xE00D);
        u32(0);
    }
    void endSequence() {
        u16(0xFFFE);
        u16(0xE0DD);
        u32(0);
    }
    const std::string& bytes() const { return m_bytes; }

private:
    void header(std::uint16_t group, std::uint16_t element, const char* vr, std::uint32_t length) {
        u16(group);
        u16(element);
        m_bytes.append(vr, 2);
        const std::string v(vr);
        if (v == "OB" || v == "OW" || v == "SQ" || v == "UN" || v == "UT" || v == "OF") {
            u16(0);
            u32(length);
        } else {
            u16(std::uint16_t(length));
        }
    }
    void u16(std::uint16_t v) {
        m_bytes += char(v & 0xFF);
        m_bytes += char(v >> 8);
    }
    void u32(std::uint32_t v) {
        u16(std::uint16_t(v & 0xFFFF));
        u16(std::uint16_t(v >> 16));
    }
    std::string m_bytes;
};

/// A CT file with ReferencedImageSequence (2 items, the second holding a nested code sequence)
/// and `extraItems` more items in a second sequence, to make large files.
void writeFile(const fs::path& path, int extraItems = 0) {
    DicomBytes ds;
    ds.element(0x0008, 0x0005, "CS", "ISO_IR 100");
    ds.element(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.2");
    ds.element(0x0008, 0x0018, "UI", "1.2.3.4.99");
    ds.element(0x0008, 0x0060, "CS", "CT");
    ds.beginSequence(0x0008, 0x1140);
    ds.beginItem();
    ds.element(0x0008, 0x1150, "UI", "1.2.840.10008.5.1.4.1.1.2");
    ds.element(0x0008, 0x1155, "UI", "1.2.3.4.1");
    ds.endItem();
    ds.beginItem();
    ds.element(0x0008, 0x1150, "UI", "1.2.840.10008.5.1.4.1.1.2");
    ds.element(0x0008, 0x1155, "UI", "1.2.3.4.2");
    ds.beginSequence(0x0040, 0xA170);
    ds.beginItem();
    ds.element(0x0008, 0x0100, "SH", "121311");
    ds.element(0x0008, 0x0102, "SH", "DCM");
    ds.element(0x0008, 0x0104, "LO", "Localizer");
    ds.endItem();
    ds.endSequence();
    ds.endItem();
    ds.endSequence();
    if (extraItems > 0) {
        ds.beginSequence(0x0008, 0x114A); // ReferencedInstanceSequence
        for (int i = 0; i < extraItems; ++i) {
            ds.beginItem();
            ds.element(0x0008, 0x1150, "UI", "1.2.840.10008.5.1.4.1.1.2");
            ds.element(0x0008, 0x1155, "UI", "1.2.3.5." + std::to_string(i));
            ds.element(0x0008, 0x1160, "IS", "1\\2\\3");
            ds.endItem();
        }
        ds.endSequence();
    }
    ds.element(0x0010, 0x0010, "PN", "M\xFCller^Anna"); // Latin-1
    ds.element(0x0010, 0x0020, "LO", "UI-1");
    ds.us(0x0028, 0x0010, 4);
    ds.us(0x0028, 0x0011, 4);
    ds.element(0x7FE0, 0x0010, "OW", std::string(32, '\x7F'));

    DicomBytes meta;
    meta.element(0x0002, 0x0001, "OB", std::string("\0\1", 2));
    meta.element(0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.2");
    meta.element(0x0002, 0x0003, "UI", "1.2.3.4.99");
    meta.element(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1");
    DicomBytes length;
    length.ul(0x0002, 0x0000, std::uint32_t(meta.bytes().size()));

    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << std::string(128, '\0') << "DICM" << length.bytes() << meta.bytes() << ds.bytes();
}

/// Depth-first search of the browser's model for the first row whose column `column` equals
/// `text`.
QModelIndex findRow(const QAbstractItemModel* model, int column, const QString& text,
                    const QModelIndex& parent = {}) {
    for (int row = 0; row < model->rowCount(parent); ++row) {
        const QModelIndex index = model->index(row, 0, parent);
        if (model->index(row, column, parent).data().toString() == text) {
            return index;
        }
        const QModelIndex below = findRow(model, column, text, index);
        if (below.isValid()) {
            return below;
        }
    }
    return {};
}

QString valueOf(const QModelIndex& index) {
    return index.siblingAtColumn(TagBrowser::ValueColumn).data().toString();
}

/// The row is in the model and can be seen: every ancestor expanded.
bool isReachable(const QTreeView* view, QModelIndex index) {
    if (!index.isValid()) {
        return false;
    }
    for (QModelIndex p = index.parent(); p.isValid(); p = p.parent()) {
        if (!view->isExpanded(p)) {
            return false;
        }
    }
    return true;
}

class TagBrowserTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_folder = fs::path(::testing::TempDir()) / "tag-browser";
        fs::remove_all(m_folder);
        m_file = m_folder / "ct.dcm";
        writeFile(m_file);
    }
    void TearDown() override {
        QThreadPool::globalInstance()->waitForDone(10000);
        fs::remove_all(m_folder);
    }
    QString file() const { return QString::fromStdString(m_file.string()); }

    fs::path m_folder;
    fs::path m_file;
};

} // namespace

TEST_F(TagBrowserTest, ShowsAFileAndFindsNestedElementsWithTheirAncestors) {
    TagBrowser browser;
    browser.resize(700, 500);
    browser.show();
    QSignalSpy loaded(&browser, &TagBrowser::loaded);
    browser.showFile(file());
    EXPECT_EQ(browser.currentFile(), file());
    ASSERT_TRUE(loaded.wait(10000));
    EXPECT_EQ(loaded.front().at(0).toString(), file());
    EXPECT_FALSE(browser.hasError());

    QAbstractItemModel* model = browser.model();
    EXPECT_EQ(model->columnCount(), 4);
    EXPECT_EQ(model->headerData(TagBrowser::KeywordColumn, Qt::Horizontal).toString(), "Keyword");
    EXPECT_EQ(model->index(0, TagBrowser::TagColumn).data().toString(), "(0002,0000)");
    const QModelIndex name = findRow(model, TagBrowser::KeywordColumn, "PatientName");
    ASSERT_TRUE(name.isValid());
    EXPECT_EQ(name.parent(), QModelIndex());
    EXPECT_EQ(valueOf(name), QString::fromUtf8("M\xC3\xBCller^Anna"));
    EXPECT_EQ(name.siblingAtColumn(TagBrowser::VrColumn).data().toString(), "PN");
    EXPECT_EQ(valueOf(findRow(model, TagBrowser::KeywordColumn, "PixelData")), "OW, 32 bytes");
    const int allTopLevel = model->rowCount();
    const QModelIndex sequence = findRow(model, TagBrowser::TagColumn, "(0008,1140)");
    ASSERT_TRUE(sequence.isValid());
    EXPECT_EQ(model->rowCount(sequence), 2);
    EXPECT_FALSE(browser.treeView()->isExpanded(sequence));

    // A keyword found only inside the nested sequence: it, its item, the sequence holding it,
    // that sequence's item and the top-level sequence are shown and expanded; PatientName is not.
    QTest::keyClicks(browser.searchField(), "codemeaning");
    const QModelIndex meaning = findRow(model, TagBrowser::KeywordColumn, "CodeMeaning");
    ASSERT_TRUE(meaning.isValid());
    EXPECT_EQ(valueOf(meaning), "Localizer");
    EXPECT_TRUE(isReachable(browser.treeView(), meaning));
    const QModelIndex codeSequence = meaning.parent().parent();
    EXPECT_EQ(codeSequence.siblingAtColumn(TagBrowser::TagColumn).data().toString(), "(0040,A170)");
    EXPECT_EQ(codeSequence.parent().data().toString(), "Item 2");
    EXPECT_EQ(codeSequence.parent().parent().data().toString(), "(0008,1140)");
    EXPECT_EQ(model->rowCount(), 1) << "unrelated top-level rows are still shown";
    EXPECT_FALSE(findRow(model, TagBrowser::KeywordColumn, "PatientName").isValid());
    EXPECT_EQ(model->rowCount(codeSequence.parent().parent()), 1) << "Item 1 has no match";
    EXPECT_TRUE(browser.statusText().contains("1 of")) << browser.statusText().toStdString();

    // A tag typed with or without its punctuation finds the nested instance UIDs.
    for (const char* query : {"0008,1155", "00081155", "(0008,1155)"}) {
        browser.searchField()->clear();
        QTest::keyClicks(browser.searchField(), query);
        const QModelIndex first = findRow(model, TagBrowser::ValueColumn, "1.2.3.4.1");
        const QModelIndex second = findRow(model, TagBrowser::ValueColumn, "1.2.3.4.2");
        ASSERT_TRUE(first.isValid()) << query;
        ASSERT_TRUE(second.isValid()) << query;
        EXPECT_TRUE(isReachable(browser.treeView(), first)) << query;
        EXPECT_TRUE(isReachable(browser.treeView(), second)) << query;
        EXPECT_EQ(model->rowCount(), 1) << query;
        EXPECT_FALSE(findRow(model, TagBrowser::KeywordColumn, "CodeMeaning").isValid()) << query;
        EXPECT_FALSE(findRow(model, TagBrowser::KeywordColumn, "Modality").isValid()) << query;
    }

    // By value, case-insensitively.
    browser.searchField()->clear();
    QTest::keyClicks(browser.searchField(), "LOCALIZER");
    EXPECT_TRUE(
        isReachable(browser.treeView(), findRow(model, TagBrowser::KeywordColumn, "CodeMeaning")));
    browser.searchField()->clear();
    browser.searchField()->setText(QString::fromUtf8("m\xC3\xBCller")); // QTest types ASCII
    EXPECT_EQ(model->rowCount(), 1);
    EXPECT_TRUE(findRow(model, TagBrowser::KeywordColumn, "PatientName").isValid());

    // Matching a sequence keeps its contents (collapsed) to explore.
    browser.searchField()->clear();
    QTest::keyClicks(browser.searchField(), "ReferencedImageSequence");
    ASSERT_EQ(model->rowCount(), 1);
    EXPECT_EQ(model->rowCount(model->index(0, 0)), 2);

    // Nothing matches: nothing shown, and no crash.
    browser.searchField()->clear();
    QTest::keyClicks(browser.searchField(), "no such thing");
    EXPECT_EQ(model->rowCount(), 0);

    // Clearing the search shows everything again.
    browser.searchField()->clear();
    EXPECT_EQ(model->rowCount(), allTopLevel);
    EXPECT_TRUE(findRow(model, TagBrowser::KeywordColumn, "PatientName").isValid());
    EXPECT_EQ(model->rowCount(findRow(model, TagBrowser::TagColumn, "(0008,1140)")), 2);
}

TEST_F(TagBrowserTest, TheSelectedRowStaysSelectedWhenTheSearchIsCleared) {
    TagBrowser browser;
    browser.show();
    QSignalSpy loaded(&browser, &TagBrowser::loaded);
    browser.showFile(file());
    ASSERT_TRUE(loaded.wait(10000));
    QTest::keyClicks(browser.searchField(), "Localizer");
    const QModelIndex meaning = findRow(browser.model(), TagBrowser::KeywordColumn, "CodeMeaning");
    ASSERT_TRUE(meaning.isValid());
    browser.treeView()->setCurrentIndex(meaning);
    browser.searchField()->clear();
    const QModelIndex current = browser.treeView()->currentIndex();
    ASSERT_TRUE(current.isValid());
    EXPECT_EQ(current.siblingAtColumn(TagBrowser::KeywordColumn).data().toString(), "CodeMeaning");
    EXPECT_TRUE(isReachable(browser.treeView(), current));
}

TEST_F(TagBrowserTest, ABadFileShowsTheReasonAndTheNextFileStillLoads) {
    TagBrowser browser;
    browser.show();
    const fs::path bad = m_folder / "notes.dcm";
    std::ofstream(bad) << "This is not a DICOM file.";
    const QString badPath = QString::fromStdString(bad.string());
    QSignalSpy failed(&browser, &TagBrowser::loadFailed);
    QSignalSpy loaded(&browser, &TagBrowser::loaded);
    browser.showFile(badPath);
    ASSERT_TRUE(failed.wait(10000));
    EXPECT_EQ(failed.front().at(0).toString(), badPath);
    EXPECT_TRUE(browser.hasError());
    EXPECT_TRUE(browser.statusText().contains("notes.dcm")) << browser.statusText().toStdString();
    EXPECT_TRUE(browser.statusText().contains("not a DICOM file"))
        << browser.statusText().toStdString();
    EXPECT_EQ(browser.model()->rowCount(), 0);
    EXPECT_EQ(loaded.count(), 0);
    // Typing into the search of a failed file is harmless.
    QTest::keyClicks(browser.searchField(), "x");
    EXPECT_TRUE(browser.hasError());
    browser.searchField()->clear();

    browser.showFile(QString::fromStdString((m_folder / "missing.dcm").string()));
    ASSERT_TRUE(failed.wait(10000));
    EXPECT_TRUE(browser.statusText().contains("missing.dcm"));

    browser.showFile(file());
    ASSERT_TRUE(loaded.wait(10000));
    EXPECT_FALSE(browser.hasError());
    EXPECT_TRUE(findRow(browser.model(), TagBrowser::KeywordColumn, "PatientName").isValid());
}

TEST_F(TagBrowserTest, AnOlderResultArrivingLateIsDropped) {
    TagBrowser browser;
    const fs::path bad = m_folder / "junk.dcm";
    std::ofstream(bad) << "junk";
    QSignalSpy failed(&browser, &TagBrowser::loadFailed);
    QSignalSpy loaded(&browser, &TagBrowser::loaded);
    // Three requests at once; only the last one counts, whichever job finishes first.
    browser.showFile(QString::fromStdString(bad.string()));
    browser.showFile(file());
    browser.showFile(file());
    ASSERT_TRUE(loaded.wait(10000));
    QThreadPool::globalInstance()->waitForDone(10000);
    QTest::qWait(50); // deliver any result that was still queued
    EXPECT_EQ(loaded.count(), 1);
    EXPECT_EQ(failed.count(), 0) << "the result of the first (bad) file was shown";
    EXPECT_FALSE(browser.hasError());
    EXPECT_EQ(browser.currentFile(), file());
}

TEST_F(TagBrowserTest, ClosingThePanelWhileReadingIsSafe) {
    for (int i = 0; i < 5; ++i) {
        auto browser = std::make_unique<TagBrowser>();
        browser->showFile(file());
        browser.reset();
    }
    QThreadPool::globalInstance()->waitForDone(10000);
    QTest::qWait(20);
    SUCCEED();
}

TEST_F(TagBrowserTest, SearchingTwoThousandElementsIsQuick) {
    const fs::path large = m_folder / "large.dcm";
    writeFile(large, 520); // 520 items x 4 rows + about 30: over 2000 rows
    TagBrowser browser;
    browser.resize(700, 500);
    browser.show();
    QSignalSpy loaded(&browser, &TagBrowser::loaded);
    browser.showFile(QString::fromStdString(large.string()));
    ASSERT_TRUE(loaded.wait(10000));
    const QModelIndex sequence = findRow(browser.model(), TagBrowser::TagColumn, "(0008,114A)");
    ASSERT_TRUE(sequence.isValid());
    ASSERT_EQ(browser.model()->rowCount(sequence), 520);

    QElapsedTimer timer;
    timer.start();
    QTest::keyClicks(browser.searchField(), "1.2.3.5.519"); // 11 keystrokes, 11 filterings
    QApplication::processEvents();                          // let the view lay itself out
    const qint64 elapsed = timer.elapsed();
    const QModelIndex match = findRow(browser.model(), TagBrowser::ValueColumn, "1.2.3.5.519");
    ASSERT_TRUE(match.isValid());
    EXPECT_TRUE(isReachable(browser.treeView(), match));
    EXPECT_EQ(browser.model()->rowCount(match.parent().parent()), 1);
    std::cout << "11 searches over " << 520 * 4 + 30 << " rows: " << elapsed << " ms\n";
    // Generous: about 10 ms here; a search that rebuilt widgets per row would take seconds.
    EXPECT_LT(elapsed, 3000);
    browser.searchField()->clear();
    EXPECT_EQ(
        browser.model()->rowCount(findRow(browser.model(), TagBrowser::TagColumn, "(0008,114A)")),
        520);
}
